"""`watch` one source, or `run` every configured camera with a live status view."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import FrameType
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from citywatch.alerts.delivery.dispatcher import Dispatcher
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, err, out, table
from citywatch.cli.permissions import require_cameras, requires
from citywatch.config.ingest import CameraSettings, ProcessingMode
from citywatch.domain.access import Permission
from citywatch.domain.audit import Action
from citywatch.domain.errors import Unavailable
from citywatch.pipeline.camera import TrackOutcome
from citywatch.pipeline.worker import CameraStatus, CameraWorker
from citywatch.runtime.build import Runtime
from citywatch.runtime.camera_sync import CAMERA, camera_event, camera_of
from citywatch.runtime.supervised import data_folder_lock, supervise
from citywatch.runtime.supervisor import ChildState, Supervisor

log = logging.getLogger(__name__)

SHUTDOWN_S = 30.0
"""How long `run` waits for a camera to store its open tracks after Ctrl-C."""


@dataclass(frozen=True, slots=True)
class TrackLine:
    camera_id: str
    track_id: int
    started_at: str
    ended_at: str
    detections: int
    quality: float
    decision: str
    person: str | None
    watchlist: str | None
    distance: float | None
    margin: float | None
    sighting_id: int | None
    alert_id: int | None
    crop_path: str | None
    cooldown_of: int | None = None
    """A match that raised no alert: the earlier alert whose cooldown it fell in."""


def _track_line(o: TrackOutcome) -> TrackLine:
    m = o.match
    best = m.best if m.is_match else None
    return TrackLine(
        camera_id=o.track.camera_id,
        track_id=o.track.track_id,
        started_at=o.track.started_at.isoformat(),
        ended_at=o.track.ended_at.isoformat(),
        detections=o.track.detections,
        quality=o.track.best_quality,
        decision=str(m.decision),
        person=best.person_name if best else None,
        watchlist=best.watchlist_name if best else None,
        distance=m.best.distance if m.best else None,
        margin=m.margin,
        sighting_id=o.saved.sighting_id if o.saved else None,
        alert_id=o.saved.alert_id if o.saved else None,
        crop_path=o.saved.crop_path if o.saved else None,
        cooldown_of=o.saved.cooldown_of if o.saved else None,
    )


def _print_outcome(o: TrackOutcome, as_json: bool) -> None:
    line = _track_line(o)
    if as_json:
        emit_json("track", line)
        return
    span = f"{o.track.first_pts_s:7.2f}s–{o.track.last_pts_s:7.2f}s"
    head = f"track {line.track_id:>4} {span} {line.detections:>3} det q={line.quality:.2f}"
    if line.person:
        alert = f" [bold red]ALERT #{line.alert_id}[/]" if line.alert_id else ""
        if o.saved is not None and o.saved.cooldown_of is not None:
            alert = f" (no new alert: within the cooldown of alert #{o.saved.cooldown_of})"
        out.print(f"{head} → [bold]{line.person}[/] ({line.watchlist}, d={line.distance:.3f}){alert}")
    elif line.sighting_id is None:
        out.print(f"{head} → unknown (discarded)")
    else:
        out.print(f"{head} → unknown (sighting #{line.sighting_id}; {o.match.explain()})")


@requires(Permission.CAMERAS_RUN)
def watch(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Video file, image folder, or rtsp/http stream URL.")],
    camera_id: Annotated[str, typer.Option(help="Camera id recorded with sightings.")] = "watch",
    mode: Annotated[
        ProcessingMode,
        typer.Option(
            help="Mode asked for (watchlist: keep matches only; investigate: keep every sighting). "
            "Policy decides what holds: identification needs an authorisation naming the camera, "
            "and protected zones and events turn it off."
        ),
    ] = ProcessingMode.WATCHLIST,
    detect_fps: Annotated[
        float | None, typer.Option(min=0.1, max=60, help="Override detection rate.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Process one file, stream or image folder; print tracks, matches and a summary."""
    rt = runtime(ctx)
    require_cameras(rt, Permission.CAMERAS_RUN, [camera_id], ctx.command_path)
    own_data_folder(ctx, rt, "citywatch watch")  # before recover(), which tidies what a writer left
    rt.recover()
    rt.orders.enforce()  # orders whose window passed lose their templates before matching starts
    source_settings = rt.settings.source
    if detect_fps is not None:
        source_settings = source_settings.model_copy(update={"detect_fps": detect_fps})
    # a camera's place comes with its id: the zones it stands in still apply
    configured = next((c for c in rt.cameras() if c.id == camera_id), None)
    location = None if configured is None else configured.location
    camera = CameraSettings(id=camera_id, url=source, mode=mode, source=source_settings, location=location)
    if mode is ProcessingMode.INVESTIGATE:
        log.warning(
            "investigate mode keeps a template of every face seen on %s, for case search; "
            "use it only under a recorded legal basis",
            camera_id,
        )
    worker = rt.camera_worker(camera, lambda o: _print_outcome(o, as_json))
    start_delivery(ctx, rt)
    rt.audit(camera_event(Action.CAMERA_START, camera))
    started = time.perf_counter()
    stop_on_signals(worker.stop)  # Ctrl-C: stop reading, store open tracks, print the summary
    worker.start()
    log.info("watching %s as camera %s (Ctrl-C stops and prints the summary)", source, camera_id)
    if as_json:
        while not worker.join(0.25):
            pass
    else:
        with err.status("watching… (Ctrl-C stops)") as spinner:
            while not worker.join(0.25):
                s = worker.status()
                spinner.update(f"{s.state}: {s.frames} frames, {s.fps:.1f} fps, {s.sightings} sightings")
    _summary(worker, time.perf_counter() - started, as_json)
    rt.audit(camera_event(Action.CAMERA_STOP, camera, worker))
    if worker.failure is not None:
        raise worker.failure
    if worker.pipeline_error is not None:
        raise worker.pipeline_error
    if worker.recorder is not None and worker.recorder.error is not None:
        raise Unavailable(worker.recorder.error)


def _summary(worker: CameraWorker, seconds: float, as_json: bool) -> None:
    stats, health, decision = worker.pipeline.stats, worker.source.health, worker.pipeline.decision
    recorder = worker.recorder
    summary = {
        "camera_id": worker.source.camera_id,
        "mode": None if decision is None else str(decision.mode),
        "why_not_requested": None if decision is None else "; ".join(decision.reasons) or None,
        "authorisations": None if decision is None else [a.reference for a in decision.authorisations],
        "frames_decoded": health.frames_decoded,
        "frames_processed": stats.frames,
        "seconds": seconds,
        "frames_per_s": health.frames_decoded / seconds if seconds else 0.0,
        "faces_detected": stats.faces_detected,
        "faces_kept": stats.faces_kept,
        "rejected": dict(stats.rejected),
        "tracks": stats.tracks,
        "embeddings": stats.embeddings,
        "sightings": stats.sightings,
        "matches": stats.matches,
        "alerts": stats.alerts,
        "alerts_in_cooldown": stats.in_cooldown,
        "dismissed_faces": stats.non_matches,
        "discarded": stats.discarded,
        "withheld_by_policy": stats.withheld,
        "idle_frames": stats.idle_frames,
        "sightings_lost": stats.lost,
        "unexpected_errors": worker.unexpected_errors,
        "dropped_frames": worker.status().dropped,
        "reconnects": health.reconnects,
        "footage_segments": None if recorder is None else recorder.segments,
        "recording_error": None if recorder is None else recorder.error,
        "warnings": list(health.warnings),
        "error": worker.error,
    }
    if as_json:
        emit_json("summary", summary)
        return
    rows = [[k.replace("_", " "), _fmt(v)] for k, v in summary.items() if v not in (None, [], {}, 0)]
    table("summary", ["", ""], rows)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v)
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


@requires(Permission.CAMERAS_RUN)
def run(ctx: typer.Context) -> None:
    """Watch every camera of the city at once (the configuration file's and the camera
    records'), with a live status view, until Ctrl-C or until every camera has ended. A camera
    added, changed or removed meanwhile (`citywatch cameras`) is picked up within seconds; a
    camera worker or service that dies is restarted (`restarts:` in the configuration)."""
    rt = runtime(ctx)
    cameras = rt.cameras()
    if not cameras:
        raise typer.BadParameter(
            "no cameras: add them under `cameras:` (see `citywatch init`) or with `citywatch cameras add`"
        )
    require_cameras(rt, Permission.CAMERAS_RUN, [c.id for c in cameras], ctx.command_path)
    own_data_folder(ctx, rt, "citywatch run")  # before recover(), which tidies what a writer left
    rt.recover()
    stop = threading.Event()
    stop_on_signals(stop.set)
    supervisor = supervise(rt)
    _audit_cameras(rt, supervisor, Action.CAMERA_START)
    start_api(ctx, rt)
    supervisor.start()
    with Live(_status_table(camera_statuses(supervisor)), console=err, refresh_per_second=2) as live:
        while not stop.wait(0.5) and not _cameras_ended(supervisor):
            live.update(_status_table(camera_statuses(supervisor)))
        for name in supervisor.stop(SHUTDOWN_S):
            log.error("%s did not stop within %.0f s", name, SHUTDOWN_S)
        live.update(_status_table(camera_statuses(supervisor)))
    _audit_cameras(rt, supervisor, Action.CAMERA_STOP)
    statuses = camera_statuses(supervisor)
    for s in statuses:
        restarts = f", {s.restarts} restart(s)" if s.restarts else ""
        out.print(
            f"camera {s.camera_id}: {s.state}, {s.frames} frames, {s.sightings} sightings, "
            f"{s.matches} matches, {s.alerts} alerts{restarts}" + (f" ({s.error})" if s.error else "")
        )
    out.print(f"stopped {len(statuses)} camera(s) cleanly")


def _workers(supervisor: Supervisor) -> list[CameraWorker]:
    return [w for w in supervisor.children(CAMERA) if isinstance(w, CameraWorker)]


def _audit_cameras(rt: Runtime, supervisor: Supervisor, action: Action) -> None:
    """Each camera worker's start (before the supervisor starts them) or stop (after)."""
    for worker in _workers(supervisor):
        camera = camera_of(supervisor, worker)
        if camera is not None:
            stopping = action is Action.CAMERA_STOP
            rt.audit(camera_event(action, camera, worker if stopping else None))


def _cameras_ended(supervisor: Supervisor) -> bool:
    """Every camera has ended for good (files read to their end, cameras failed); a city whose
    cameras were all removed waits for new ones instead."""
    cameras = [s for s in supervisor.status() if s.camera_id is not None]
    return bool(cameras) and supervisor.settled(CAMERA)


def camera_statuses(supervisor: Supervisor) -> list[CameraStatus]:
    """Each camera's newest worker's status, as the supervisor sees it: restarting or failed
    (restart budget spent) with its restarts; a camera that could not be opened, failed."""
    statuses = []
    for child in supervisor.status():
        if child.camera_id is None:
            continue
        worker = supervisor.child(child.name)
        if not isinstance(worker, CameraWorker):
            statuses.append(CameraStatus.failed(child.camera_id, child.error or "could not be opened"))
            continue
        status = replace(worker.status(), restarts=child.restarts)
        if child.state in (ChildState.RESTARTING, ChildState.FAILED):
            status = replace(status, state=str(child.state), error=child.error)
        statuses.append(status)
    return statuses


def own_data_folder(ctx: typer.Context, rt: Runtime, command: str) -> None:
    """Hold the data folder's lock while the command runs: one process records into a data
    folder at a time (a second is refused with who holds it: Conflict)."""
    lock = data_folder_lock(rt, command)
    lock.acquire()
    ctx.call_on_close(lock.release)


def start_delivery(ctx: typer.Context, rt: Runtime) -> Dispatcher | None:
    """Deliver alerts from the outbox (earlier runs' rows too) while the command runs; when
    it ends, a last round sends what the cameras stored as they stopped."""
    dispatcher = rt.dispatcher()
    if dispatcher is None:
        return None
    dispatcher.start()
    ctx.call_on_close(dispatcher.stop)
    return dispatcher


def start_api(ctx: typer.Context, rt: Runtime) -> None:
    """Serve the API (the live alert feed) while the command runs, when `api.enabled`; it
    stops after the cameras, so the alerts they store as they stop still reach the feed."""
    if not rt.settings.api.enabled:
        return
    # FastAPI, uvicorn and sse-starlette (which patches uvicorn's exit handler when imported)
    # load only for a command that serves.
    from citywatch.web.api.server import ApiServer  # noqa: PLC0415
    from citywatch.web.app import create_app  # noqa: PLC0415

    server = ApiServer(create_app(rt), rt.settings.api, rt.feed)
    server.start()
    ctx.call_on_close(server.stop)
    err.print(f"API on {server.url} (live alerts: {server.url}/api/alerts/stream)")


def stop_on_signals(stop: Callable[[], None]) -> None:
    """SIGINT and SIGTERM ask for a clean stop instead of killing the process mid-write."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def _status_table(statuses: list[CameraStatus]) -> Table:
    t = Table(title="citywatch run (Ctrl-C to stop)", title_justify="left")
    for col in (
        "camera",
        "state",
        "mode",
        "recording",
        "frames",
        "fps",
        "dropped",
        "open tracks",
        "sightings",
        "matches",
        "alerts",
        "restarts",
        "error",
    ):
        t.add_column(col)
    for s in statuses:
        colour = {
            "running": "green",
            "reconnecting": "yellow",
            "stalled": "yellow",
            "restarting": "yellow",
            "failed": "red",
        }.get(s.state, "white")
        t.add_row(
            s.camera_id,
            f"[{colour}]{s.state}[/]",
            s.mode,
            s.recording[:40],
            str(s.frames),
            f"{s.fps:.1f}",
            str(s.dropped),
            str(s.active_tracks),
            str(s.sightings),
            str(s.matches),
            str(s.alerts),
            str(s.restarts),
            (s.error or "")[:60],
        )
    return t
