"""`citywatch sim`: a simulated city on this machine, in three parts, each on real processes
(`citywatch worker`, `store` and `serve` as a deployment runs them), the real bus (a NATS
JetStream server of its own) and a PostgreSQL database of its own:

1. the city: real cameras replaying the shared clip and a thousand virtual cameras at a
   realistic rate, on two workers, a store and an API replica whose live feed an SSE client
   reads: alert latency, probes per second, bus backlog, write rate, memory and CPU;
2. workers flat out: the virtual cameras at a rate no worker keeps up with, on one worker and
   then two: the sustained matching rate against the full gallery, and the speed-up;
3. stores flat out: sightings waiting on the bus, stored by one store process and then two:
   sightings per second, and the speed-up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text

from citywatch.bench.progress import Progress, quiet
from citywatch.bus.jetstream import STREAM
from citywatch.cluster.messages import encode_sighting, origin_of, sighting_subject
from citywatch.cluster.nats import NatsClient
from citywatch.cluster.servers import NatsServer, free_port
from citywatch.config.load import load
from citywatch.config.settings import Settings
from citywatch.domain.bus import Outgoing
from citywatch.domain.matching import MatchDecision, MatchResult
from citywatch.domain.records import SightingRecord
from citywatch.media.images import encode_jpeg
from citywatch.pipeline.virtual import ProbeSet
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.sim import figures
from citywatch.sim.city import Layout, Populated, own_database, populate, write_config
from citywatch.sim.probes import city_faces
from citywatch.sim.processes import LiveFeed, Process, Processes, SimFailed, Watch

START_S = 300.0
"""How long the processes may take to hold every camera."""
DRAIN_S = 180.0
WARMED = 1.5
"""The city is measured once each worker has handed over this many faces per camera it holds
and keeps up: each camera's first face records the camera's mode in the audit log (a
transaction each, a thousand cameras' worth at the start), which puts the workers behind."""


@dataclass(frozen=True, slots=True)
class SimOptions:
    virtual: int = 1000
    real: int = 4
    faces_per_s: float = 0.1
    """At each virtual camera, in the city part."""
    enrolled_share: float = 0.02
    duration_s: float = 60.0
    gallery: int = 10_000
    flat_out_faces_per_s: float = 20.0
    flat_out_s: float = 20.0
    store_sightings: int = 20_000
    parts: tuple[str, ...] = ("city", "workers", "stores")


@dataclass(frozen=True)
class SimCity:
    work: Path
    data: Path
    settings: Settings
    """The harness's own view of the city (its database, its bus)."""
    rt: Runtime
    probes: Path
    populated: Populated
    port: int

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def bus_url(self) -> str:
        return self.settings.bus


def simulate(
    options: SimOptions, *, work: Path, data: Path, models_dir: Path, server: str, progress: Progress = quiet
) -> dict[str, Any]:
    """Run the parts of the simulation `options` names; what each measured."""
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"options": asdict(options)}
    with _city(
        options, work=work, data=data, models_dir=models_dir, server=server, progress=progress
    ) as city:
        results["gallery"] = {"templates": options.gallery, "persons": city.rt.watchlists.watchlist_sizes()}
        if "city" in options.parts:
            results["city"] = city_part(city, options, progress)
        if "workers" in options.parts:
            results["workers"] = [worker_part(city, options, n, progress) for n in (1, 2)]
        if "stores" in options.parts:
            results["stores"] = [store_part(city, options, n, progress) for n in (1, 2)]
    return results


@contextmanager
def _city(
    options: SimOptions, *, work: Path, data: Path, models_dir: Path, server: str, progress: Progress
) -> Iterator[SimCity]:
    nats = NatsServer(work / "nats").start()
    try:
        with own_database(server) as database_url:
            port = free_port()
            config = write_config(
                work / "city.yaml",
                Layout(options.real, options.virtual),
                database_url=database_url,
                bus=nats.url,
                port=port,
                models_dir=models_dir,
                clip=data / "face_recognition/examples/short_hamilton_clip.mp4",
            )
            settings = load(config)
            rt = build_runtime(settings, config_path=config)
            try:
                faces = city_faces(data, rt.detector, rt.embedder, progress)
                probes = work / "probes.npz"
                faces.probes.save(probes)
                populated = populate(
                    rt,
                    faces,
                    Layout(options.real, options.virtual),
                    data=data,
                    gallery=options.gallery,
                    progress=progress,
                )
                yield SimCity(work, data, settings, rt, probes, populated, port)
            finally:
                rt.close()
    finally:
        nats.stop()


def _worker_args(city: SimCity, real: int, virtual: int, faces_per_s: float, share: float) -> list[str]:
    return [
        "worker",
        "--capacity",
        str(max(1, real)),
        "--virtual-capacity",
        str(virtual),
        "--probes",
        str(city.probes),
        "--faces-per-s",
        str(faces_per_s),
        "--enrolled-share",
        str(share),
    ]


def city_part(city: SimCity, o: SimOptions, progress: Progress) -> dict[str, Any]:
    """Two workers, a store and an API replica on every camera, for `duration_s`."""
    config = city.work / "city.yaml"
    procs = Processes(city.work, config)
    watch = Watch(procs, city.database_url, city.bus_url)
    feed = None
    total = o.real + o.virtual
    try:
        procs.start("serve", "serve")
        procs.start("store", "store")
        for w in (1, 2):
            # the real cameras split evenly: each costs a camera's decoding and detection
            args = _worker_args(
                city, math.ceil(o.real / 2), math.ceil(o.virtual / 2), o.faces_per_s, o.enrolled_share
            )
            procs.start(f"worker-{w}", *args, stats=True)
        feed = LiveFeed(f"http://127.0.0.1:{city.port}", city.populated.token)
        progress("the city: cameras taken", 0, total)
        watch.until("every camera held", lambda _: _progress_held(watch, total, progress), START_S)
        workers = [procs.running[f"worker-{w}"] for w in (1, 2)]
        watch.until(
            "the workers caught up with their cameras' first faces", lambda _: _warm(workers), START_S
        )
        watch.samples.clear()
        started = time.time()
        for second in range(int(o.duration_s)):
            progress("the city: seconds watched", second + 1, int(o.duration_s))
            watch.run_for(1.0)
        ended = time.time()
        stats = {name: procs.running[name].stat_lines() for name in ("worker-1", "worker-2")}
        samples = list(watch.samples)
        procs.stop("worker-1", "worker-2")
        watch.until("the bus drained", lambda s: s.bus_pending == 0, DRAIN_S)
        time.sleep(3.0)  # the last alerts' events reach the feed
        return figures.city(
            o.faces_per_s,
            _alert_times(city, started, ended),
            _stored_lags(city, started, ended),
            feed.received,
            samples,
            stats,
            started,
            ended,
        )
    finally:
        if feed is not None:
            feed.close()
        procs.stop()
        watch.close()


def _probes(process: Process) -> int:
    lines = process.stat_lines()
    return int(lines[-1]["probes"]) if lines else 0


def _warm(workers: list[Process]) -> bool:
    lines = [w.stat_lines() for w in workers]
    return all(
        ls and ls[-1]["held"] and ls[-1]["probes"] >= WARMED * ls[-1]["held"] and ls[-1]["behind_s"] < 0.5
        for ls in lines
    )


def _progress_held(watch: Watch, total: int, progress: Progress) -> bool:
    held = watch.held()
    progress("the city: cameras taken", held, total)
    return held >= total


def _alert_times(city: SimCity, since: float, until: float) -> list[tuple[int, str, float, float]]:
    """(alert id, camera, track end, alert stored) of the alerts of tracks ended in the window."""
    engine = create_engine(city.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT a.id, a.camera_id, s.ended_at, a.created_at FROM alerts a "
                    "JOIN sightings s ON s.id = a.sighting_id WHERE s.ended_at BETWEEN :a AND :b"
                ),
                {"a": _utc(since), "b": _utc(until)},
            ).all()
    finally:
        engine.dispose()
    return [(int(i), str(c), _seconds(e), _seconds(a)) for i, c, e, a in rows]


def _stored_lags(city: SimCity, since: float, until: float) -> list[float]:
    """Seconds from each sighting's track end to its row, for tracks ended in the window."""
    engine = create_engine(city.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT ended_at, created_at FROM sightings WHERE ended_at BETWEEN :a AND :b"),
                {"a": _utc(since), "b": _utc(until)},
            ).all()
    finally:
        engine.dispose()
    return [_seconds(c) - _seconds(e) for e, c in rows]


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC).replace(tzinfo=None)


def _seconds(at: datetime) -> float:
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def worker_part(city: SimCity, o: SimOptions, workers: int, progress: Progress) -> dict[str, Any]:
    """`workers` workers share the virtual cameras at a rate none keeps up with (no store runs:
    what they hand on waits on the bus)."""
    config = write_config(
        city.work / f"workers-{workers}.yaml",
        Layout(0, o.virtual),
        database_url=city.database_url,
        bus=city.bus_url,
        port=city.port,
        models_dir=city.settings.models_dir,
        clip=city.data / "face_recognition/examples/short_hamilton_clip.mp4",
    )
    procs = Processes(city.work, config)
    watch = Watch(procs, city.database_url, city.bus_url)
    names = [f"flat-out-{workers}-{w}" for w in range(1, workers + 1)]
    try:
        for name in names:
            virtual = math.ceil(o.virtual / workers)
            args = _worker_args(city, 0, virtual, o.flat_out_faces_per_s, o.enrolled_share)
            procs.start(name, *args, stats=True)
        watch.until("every virtual camera held", lambda _: watch.held() >= o.virtual, START_S)
        # warm up: each camera's first face records its mode in the audit log (a transaction)
        first = procs.running[names[0]]
        watch.until(
            "every camera's first faces", lambda _: _probes(first) >= 3 * o.virtual / workers, START_S
        )
        watch.samples.clear()
        started = time.time()
        for second in range(int(o.flat_out_s)):
            progress(f"{workers} worker(s) flat out: seconds", second + 1, int(o.flat_out_s))
            watch.run_for(1.0)
        ended = time.time()
        stats = {name: procs.running[name].stat_lines() for name in names}
        return figures.flat_out_workers(workers, stats, list(watch.samples), started, ended)
    finally:
        procs.stop()
        watch.close()


def store_part(city: SimCity, o: SimOptions, stores: int, progress: Progress) -> dict[str, Any]:
    """`o.store_sightings` sightings wait on the bus; `stores` store processes store them."""
    _purge_bus(city)
    _publish_sightings(city, o.store_sightings, run=stores, progress=progress)
    procs = Processes(city.work, city.work / "city.yaml")
    watch = Watch(procs, city.database_url, city.bus_url)
    try:
        before = watch.sample().sightings
        watch.samples.clear()
        for s in range(1, stores + 1):
            procs.start(f"store-{stores}-{s}", "store")
        target = before + o.store_sightings

        def stored(sample: Any) -> bool:
            progress(
                f"{stores} store process(es): sightings stored", sample.sightings - before, o.store_sightings
            )
            return bool(sample.sightings >= target)

        watch.until("the sightings stored", stored, DRAIN_S)
        return figures.flat_out_stores(stores, list(watch.samples), before, o.store_sightings)
    finally:
        procs.stop()
        watch.close()


def _purge_bus(city: SimCity) -> None:
    _ = city.rt.bus  # the stream made, if no process has made it yet
    client = NatsClient(city.bus_url, name="citywatch-sim-purge")
    try:
        js = client.jetstream
        client.call(lambda: js.purge_stream(STREAM))
    finally:
        client.close()


def _publish_sightings(city: SimCity, n: int, *, run: int, progress: Progress) -> None:
    """`n` sightings of investigate-mode cameras (no match, template kept), as workers publish
    them, under lease token 1 of cameras of their own (their fences raised to it)."""
    probes = ProbeSet.load(city.probes)
    authorisation = city.rt.governance.authorisation(city.populated.authorisation).authorisation.id
    cameras = [f"store-{run}-{c:03d}" for c in range(100)]
    for camera in cameras:
        city.rt.sightings.raise_fence(camera, 1)
    crops = [encode_jpeg(c) for c in probes.crops]
    unknown = MatchResult(MatchDecision.UNKNOWN_DISTANCE, None, None, 0.6, 0.05)
    now = datetime.now(UTC)
    batch: list[Outgoing] = []
    for i in range(n):
        camera, probe = cameras[i % len(cameras)], i % len(probes.templates)
        ended = now + timedelta(milliseconds=i)
        record = SightingRecord(
            camera,
            i,
            ended - timedelta(seconds=2),
            ended,
            10,
            0.9,
            crops[probe],
            probes.model,
            np.asarray(probes.templates[probe]),
            unknown,
            authorisation_id=authorisation,
        )
        origin = origin_of(record, 1)
        batch.append(Outgoing(sighting_subject(camera), encode_sighting(record, origin), origin.key))
        if len(batch) == 500 or i == n - 1:
            city.rt.bus.publish_many(batch)
            batch = []
            progress("sightings put on the bus", i + 1, n)


__all__ = ["SimFailed", "SimOptions", "simulate"]
