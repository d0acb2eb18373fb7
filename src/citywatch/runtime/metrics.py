"""Prometheus metrics of one runtime: counts read from the camera workers when scraped, stage
latencies and purges recorded as they happen. A registry per runtime, never the global one.

No personal data: labels are camera ids, stage names and data classes; never a person, a
watchlist, a user or a record id."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from citywatch.domain.ports import SourceState
from citywatch.pipeline.camera import PipelineStats
from citywatch.pipeline.worker import CameraStatus
from citywatch.retention.segments import Spool
from citywatch.runtime.supervisor import ChildState, ChildStatus

STAGE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Stage latency buckets: a millisecond (tracking) to seconds (an overloaded detector)."""


@dataclass(frozen=True, slots=True)
class CameraCounts:
    """What a scrape reads of one camera: its worker's status and its pipeline's counters."""

    status: CameraStatus
    stats: PipelineStats


_COUNTERS: tuple[tuple[str, str, Callable[[CameraCounts], float]], ...] = (
    ("frames", "Frames the pipeline looked at (idle ones included).", lambda c: c.stats.frames),
    ("frames_dropped", "Live frames dropped because the pipeline fell behind.", lambda c: c.status.dropped),
    ("faces_detected", "Faces the detector found.", lambda c: c.stats.faces_detected),
    ("faces_kept", "Faces that passed the quality gate.", lambda c: c.stats.faces_kept),
    ("tracks", "Tracks that ended (each a person passing).", lambda c: c.stats.tracks),
    ("sightings", "Sightings stored.", lambda c: c.stats.sightings),
    ("matches", "Tracks that matched a watchlist entry.", lambda c: c.stats.matches),
    ("alerts", "Alerts raised.", lambda c: c.stats.alerts),
    ("sightings_lost", "Sightings that could not be stored even after retrying.", lambda c: c.stats.lost),
    ("tracks_withheld", "Tracks dropped unembedded because policy forbade it.", lambda c: c.stats.withheld),
)


class _Cameras(Collector):
    """Per-camera counters, read from the workers at scrape time: the same numbers as the
    status table of `citywatch run`, so that the two never disagree."""

    def __init__(self, cameras: Callable[[], Sequence[CameraCounts]]) -> None:
        self._cameras = cameras

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        cameras = self._cameras()
        for name, doc, value in _COUNTERS:
            family = CounterMetricFamily(f"citywatch_{name}", doc, labels=["camera"])
            # one entry per camera (LiveCameras keeps its newest worker only): a restarted
            # camera's counts start again from zero, which Prometheus reads as a counter reset
            for c in sorted(cameras, key=lambda c: c.status.camera_id):
                family.add_metric([c.status.camera_id], value(c))
            yield family
        up = GaugeMetricFamily(
            "citywatch_camera_running",
            "1 while the camera's source is being read, else 0 (opening, reconnecting, stalled, "
            "ended, failed).",
            labels=["camera"],
        )
        for c in sorted(cameras, key=lambda c: c.status.camera_id):
            up.add_metric([c.status.camera_id], 1.0 if c.status.state == str(SourceState.RUNNING) else 0.0)
        yield up


class _Supervised(Collector):
    """What the supervisor runs, by child (`camera:<id>`, `service:<name>`): its restarts and
    whether it is up, read from the supervisor at scrape time."""

    def __init__(self, supervised: Callable[[], Sequence[ChildStatus]]) -> None:
        self._supervised = supervised

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        children = sorted(self._supervised(), key=lambda s: s.name)
        restarts = CounterMetricFamily(
            "citywatch_restarts",
            "Restarts of a supervised camera worker or service since `run` started.",
            labels=["child"],
        )
        up = GaugeMetricFamily(
            "citywatch_child_up",
            "1 while a supervised camera worker or service runs (or finished its work), 0 while it "
            "waits to be restarted or has been given up on.",
            labels=["child"],
        )
        for s in children:
            restarts.add_metric([s.name], s.restarts)
            up.add_metric([s.name], 0.0 if s.state in (ChildState.RESTARTING, ChildState.FAILED) else 1.0)
        yield restarts
        yield up


class _Spooled(Collector):
    """Footage waiting in the spool for object storage (nothing on the embedded default)."""

    def __init__(self, spool: Callable[[], Spool | None]) -> None:
        self._spool = spool

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        spool = self._spool()
        if spool is None:
            return
        yield GaugeMetricFamily(
            "citywatch_footage_spooled_segments",
            "Footage segments not yet in object storage.",
            spool.segments,
        )
        yield GaugeMetricFamily(
            "citywatch_footage_spooled_oldest_seconds",
            "Age of the oldest footage segment not yet in object storage.",
            spool.oldest_s,
        )
        yield GaugeMetricFamily(
            "citywatch_footage_archive_failing",
            "1 while uploads to object storage fail.",
            int(spool.last_error is not None),
        )


class _Singletons(Collector):
    """Which singleton jobs (the purge, delivery) this process holds the lease of, read at
    scrape time: in a city, exactly one process shows 1 for each."""

    def __init__(self, held: Callable[[], Mapping[str, bool]]) -> None:
        self._held = held

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "citywatch_singleton_held",
            "1 while this process holds the singleton job's lease (and so runs its rounds), else 0.",
            labels=["singleton"],
        )
        for name, held in sorted(self._held().items()):
            family.add_metric([name], 1.0 if held else 0.0)
        yield family


class Metrics:
    """The runtime's metrics. `stage` and `purged` record; `cameras` and `supervised` are read
    on each scrape."""

    def __init__(
        self,
        cameras: Callable[[], Sequence[CameraCounts]] = tuple,
        supervised: Callable[[], Sequence[ChildStatus]] = tuple,
        spool: Callable[[], Spool | None] = lambda: None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._stage = Histogram(
            "citywatch_stage_seconds",
            "Seconds per pipeline stage call (detect, quality, track, embed, match, store).",
            labelnames=["stage"],
            buckets=STAGE_BUCKETS_S,
            registry=self.registry,
        )
        self._purges = Counter(
            "citywatch_purges", "Retention purges that deleted something.", registry=self.registry
        )
        self._purged = Counter(
            "citywatch_purged",
            "Items deleted by retention purges, by data class.",
            labelnames=["data_class"],
            registry=self.registry,
        )
        self.registry.register(_Cameras(cameras))
        self.registry.register(_Supervised(supervised))
        self.registry.register(_Spooled(spool))
        self._singletons: _Singletons | None = None

    def stage(self, stage: str, seconds: float) -> None:
        """One call of a pipeline stage took `seconds` (all cameras together: a label per
        camera would multiply the series by the cameras of a city)."""
        self._stage.labels(stage).observe(seconds)

    def purged(self, counts: Mapping[str, int]) -> None:
        """A purge's receipt: how many items of each class it deleted."""
        self._purges.inc()
        for data_class, n in counts.items():
            self._purged.labels(data_class).inc(n)

    def singletons(self, held: Callable[[], Mapping[str, bool]]) -> None:
        """Read `held` (each singleton job this process asked for: whether it holds it) at
        each scrape, instead of what was read before."""
        if self._singletons is not None:
            self.registry.unregister(self._singletons)
        self._singletons = _Singletons(held)
        self.registry.register(self._singletons)

    def exposition(self) -> bytes:
        """The Prometheus text format of everything above."""
        return generate_latest(self.registry)
