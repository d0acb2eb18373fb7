"""The processes of a city (`bus: nats://…`), each as many times as the load needs, on as many
machines: `citywatch worker` runs cameras, `citywatch store` stores what they see and runs
the singletons, `citywatch serve` serves the API and console. On the embedded default
(`bus` empty) `citywatch run` does all of it in one process."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from citywatch.cli.context import runtime
from citywatch.cli.output import err
from citywatch.cli.permissions import requires
from citywatch.cli.watching import SHUTDOWN_S, stop_on_signals
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.runtime.build import Runtime
from citywatch.runtime.city import ACK_WAIT_S, feed_from_bus, supervise_store, supervise_worker
from citywatch.runtime.supervisor import Supervisor

log = logging.getLogger(__name__)

REPORT_S = 10.0
"""How often a process of the city logs what it does."""


def _city(ctx: typer.Context, command: str) -> Runtime:
    rt = runtime(ctx)
    if not rt.settings.bus:
        raise InvalidInput(
            f"`citywatch {command}` is a process of a city: set `bus: nats://host:4222` (and a "
            "PostgreSQL `database_url`); on one machine `citywatch run` does all of it"
        )
    return rt


def _until_stopped(supervisor: Supervisor) -> None:
    supervisor.start()
    try:
        _wait_for_a_signal()
    finally:
        for name in supervisor.stop(SHUTDOWN_S):
            log.error("%s did not stop within %.0f s", name, SHUTDOWN_S)


def _wait_for_a_signal() -> None:
    """Until SIGTERM or SIGINT (Ctrl-C)."""
    stop = threading.Event()
    stop_on_signals(stop.set)
    while not stop.wait(0.5):
        pass


@requires(Permission.CAMERAS_RUN)
def worker(
    ctx: typer.Context,
    capacity: Annotated[int, typer.Option(help="The most cameras this worker runs at once.", min=1)] = 8,
    probes: Annotated[
        Path | None,
        typer.Option(
            help="A probe set (`citywatch sim` makes one): also run the simulated city's virtual "
            "cameras (`virtual:` URLs), handing its faces to this worker's matching.",
            dir_okay=False,
            exists=True,
        ),
    ] = None,
    virtual_capacity: Annotated[
        int, typer.Option(help="With --probes: the most virtual cameras, beside CAPACITY real ones.", min=1)
    ] = 1000,
    faces_per_s: Annotated[
        float, typer.Option(help="With --probes: faces per second at each virtual camera.", min=0.0001)
    ] = 0.1,
    enrolled_share: Annotated[
        float, typer.Option(help="With --probes: the share of faces of enrolled people.", min=0.0, max=1.0)
    ] = 0.02,
    stats: Annotated[
        Path | None,
        typer.Option(help="With --probes: append what the virtual cameras did, a JSON line a second."),
    ] = None,
) -> None:
    """Run cameras of a city: take cameras nobody holds by lease (NATS KV), up to CAPACITY,
    and run each (decode, detect, track, embed, match here); sightings go out on the bus. A
    camera whose lease this worker loses stops at once. Until SIGTERM or Ctrl-C."""
    rt = _city(ctx, "worker")
    virtual = None
    if probes is not None:
        from citywatch.pipeline.virtual import ProbeSet, VirtualCameras  # noqa: PLC0415  (the sim only)

        virtual = VirtualCameras(
            ProbeSet.load(probes), faces_per_s=faces_per_s, enrolled_share=enrolled_share
        )
    supervisor, city = supervise_worker(
        rt, rt.bus, capacity=capacity, virtual=virtual, virtual_capacity=virtual_capacity
    )
    err.print(f"worker {rt.lease_keeper.holder}: up to {capacity} camera(s) from {rt.settings.bus}")
    reporter = _reporter(lambda: f"worker: {len(city.running())} camera(s)")
    reporter.start()
    if virtual is not None and stats is not None:
        _stats_writer(stats, lambda: {"held": virtual.held(), **asdict(virtual.stats)}).start()
    try:
        _until_stopped(supervisor)
    finally:
        if virtual is not None:
            virtual.close()


@requires(Permission.CAMERAS_RUN)
def store(
    ctx: typer.Context,
    ack_wait: Annotated[
        float,
        typer.Option(
            help="Seconds a sighting handed to this process waits for it before another gets it.", min=1
        ),
    ] = ACK_WAIT_S,
) -> None:
    """Store what a city's workers see: consume sightings from the bus into the database and
    the blob store (each exactly once), relay committed alerts to the API replicas, and run
    the singletons under their leases (purge and order enforcement, alert delivery). Until
    SIGTERM or Ctrl-C."""
    rt = _city(ctx, "store")
    rt.recover()
    supervisor, consumer = supervise_store(rt, rt.bus, ack_wait_s=ack_wait)
    err.print(f"store consumer {rt.lease_keeper.holder} on {rt.settings.bus}")
    reporter = _reporter(lambda: f"store: {consumer.counts}")
    reporter.start()
    _until_stopped(supervisor)


@requires(Permission.CAMERAS_RUN)
def serve(ctx: typer.Context) -> None:
    """Serve the API and the console of a city (stateless: run as many behind a proxy as
    needed); the live feed delivers every alert any store process commits. Until SIGTERM
    or Ctrl-C."""
    rt = _city(ctx, "serve")
    from citywatch.web.api.server import ApiServer  # noqa: PLC0415  (only a command that serves)
    from citywatch.web.app import create_app  # noqa: PLC0415

    subscription = feed_from_bus(rt, rt.bus)
    server = ApiServer(create_app(rt), rt.settings.api, rt.feed)
    server.start()
    err.print(f"API on {server.url} (live alerts: {server.url}/api/alerts/stream)")
    try:
        _wait_for_a_signal()
    finally:
        server.stop()
        subscription.close()


def _stats_writer(path: Path, stats: Callable[[], dict[str, Any]]) -> threading.Thread:
    """Append `stats()` with the time to `path`, a JSON line a second."""

    def write() -> None:
        with path.open("a", encoding="utf-8") as f:
            while True:
                time.sleep(1.0)
                f.write(json.dumps({"t": time.time(), **stats()}) + "\n")
                f.flush()

    return threading.Thread(target=write, name="stats", daemon=True)


def _reporter(line: Callable[[], str]) -> threading.Thread:
    def report() -> None:
        while True:
            time.sleep(REPORT_S)
            log.info("%s", line())

    return threading.Thread(target=report, name="report", daemon=True)
