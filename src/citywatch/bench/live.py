"""`citywatch bench live`: several cameras replayed in real time at once: does the
pipeline keep up (frames dropped), and does memory stay flat?"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from citywatch.bench.authorised import authorise_benchmark
from citywatch.config.ingest import CameraSettings, ProcessingMode, SourceSettings
from citywatch.runtime.build import Runtime

WARM_UP_S = 60.0
"""Memory is compared with its level after this long (or a sixth of a shorter run)."""


def rss_mb() -> float:
    """Resident memory of this process now (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass(frozen=True, slots=True)
class LiveCamera:
    camera_id: str
    frames_decoded: int
    frames_due: int
    """Frames the configured detection rate asks for in the measured time."""
    frames_analysed: int
    """Frames detection ran on before the time was up (backlog processed later not counted)."""
    dropped_by_queue: int
    sightings: int

    @property
    def missed(self) -> int:
        """Frames due but not analysed in time: dropped, or late because the camera fell behind."""
        return max(self.frames_due - self.frames_analysed, 0)

    @property
    def missed_pct(self) -> float:
        return 100.0 * self.missed / self.frames_due if self.frames_due else 0.0


@dataclass
class LiveReport:
    clip: str
    streams: int
    seconds: float
    detect_fps: float
    cameras: list[LiveCamera]
    rss_mb_after_warm_up: float
    rss_mb_end: float
    peak_rss_mb: float
    rss_samples: list[tuple[float, float]] = field(default_factory=list)

    stopped_cleanly: bool = True

    @property
    def missed_pct(self) -> float:
        total = sum(c.frames_due for c in self.cameras)
        return 100.0 * sum(c.missed for c in self.cameras) / total if total else 0.0

    @property
    def memory_growth_pct(self) -> float:
        return 100.0 * (self.rss_mb_end - self.rss_mb_after_warm_up) / self.rss_mb_after_warm_up

    def as_json(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k != "cameras"},
            "cameras": [{**asdict(c), "missed": c.missed, "missed_pct": c.missed_pct} for c in self.cameras],
            "missed_pct": self.missed_pct,
            "memory_growth_pct": self.memory_growth_pct,
        }


def live_load(
    rt: Runtime,
    clip: Path,
    *,
    streams: int,
    seconds: float,
    detect_fps: float,
    tick: Callable[[float], None] = lambda _: None,
) -> LiveReport:
    """Replay `clip` as `streams` live cameras for `seconds`, then stop them cleanly."""
    source = SourceSettings(detect_fps=detect_fps, replay=True)
    camera_ids = [f"live-{i}" for i in range(streams)]
    authorise_benchmark(rt, camera_ids, hours=seconds / 3600 + 1)
    workers = [
        rt.camera_worker(CameraSettings(id=c, url=str(clip), mode=ProcessingMode.WATCHLIST, source=source))
        for c in camera_ids
    ]
    warm_up = min(WARM_UP_S, seconds / 6)
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    for w in workers:
        w.start()
    warm_rss = 0.0
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(1.0, seconds - elapsed))
        now = time.monotonic() - started
        samples.append((round(now, 1), rss_mb()))
        if not warm_rss and now >= warm_up:
            warm_rss = samples[-1][1]
        tick(now)
    measured = time.monotonic() - started
    analysed = [w.pipeline.stats.frames for w in workers]  # before the backlog is worked off
    for w in workers:
        w.stop()
    stopped = all([w.join(30) for w in workers])
    cameras = [
        LiveCamera(
            camera_id=w.source.camera_id,
            frames_decoded=w.source.health.frames_decoded,
            frames_due=int(measured * detect_fps),
            frames_analysed=n,
            dropped_by_queue=w.status().dropped,
            sightings=w.pipeline.stats.sightings,
        )
        for w, n in zip(workers, analysed, strict=True)
    ]
    return LiveReport(
        clip=clip.name,
        streams=streams,
        seconds=seconds,
        detect_fps=detect_fps,
        cameras=cameras,
        rss_mb_after_warm_up=warm_rss or samples[0][1],
        rss_mb_end=samples[-1][1],
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        rss_samples=samples,
        stopped_cleanly=stopped,
    )


def live_markdown(r: LiveReport, meta: dict[str, Any]) -> str:
    lines = [
        "# Live load report",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; machine: {meta['machine']}  ",
        f"{r.streams} cameras replaying `{r.clip}` in real time for {r.seconds:.0f} s, detection at "
        f"{r.detect_fps:g} fps each, watchlist mode with "
        "Lin-Manuel Miranda and Alex Lacamoire enrolled.",
        "",
        "| camera | frames decoded | frames due (time x rate) | analysed in time | missed | missed % "
        "| dropped by the queue | sightings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c.camera_id} | {c.frames_decoded} | {c.frames_due} | {c.frames_analysed} | {c.missed} "
        f"| {c.missed_pct:.2f} % | {c.dropped_by_queue} | {c.sightings} |"
        for c in r.cameras
    ]
    lines += [
        "",
        f"All cameras: {r.missed_pct:.2f} % of the frames due were not analysed in time "
        "(dropped, or late because a camera fell behind real time).",
        "" if r.stopped_cleanly else "Some cameras did not stop within 30 s.",
        "",
        f"Memory (resident): {r.rss_mb_after_warm_up:.0f} MB after warm-up, {r.rss_mb_end:.0f} MB at the end "
        f"({r.memory_growth_pct:+.1f} %), peak {r.peak_rss_mb:.0f} MB.",
        "",
    ]
    return "\n".join(lines)
