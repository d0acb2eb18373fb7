"""Readiness: whether a runtime can do its work now. Each check is cheap (one query, one small
file, the workers' threads) and says in words what is wrong.

A check is critical when the server cannot do its work without it (the database, its schema,
the data folder). The cameras are not: one dead RTSP feed must not make a load balancer pull
the console, the alert stream and the public request form with it, so a camera down makes the
runtime `degraded` (still ready), named in the answer and the metrics."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from citywatch.domain.errors import CitywatchError
from citywatch.pipeline.worker import CameraStatus, CameraWorker
from citywatch.retention.segments import Spool
from citywatch.runtime.supervisor import ChildState, ChildStatus
from citywatch.store.db import Database, head_revision


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    critical: bool = True
    """False: a failure degrades the service but leaves it ready."""


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks if c.critical)

    @property
    def degraded(self) -> bool:
        """Ready, but a check that is not critical (the cameras) failed."""
        return self.ready and any(not c.ok for c in self.checks)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def readiness(
    database: Database,
    data_dir: Path,
    workers: Sequence[CameraWorker],
    failed: Sequence[CameraStatus] = (),
    supervised: Sequence[ChildStatus] = (),
    *,
    spool: Spool | None = None,
) -> Readiness:
    """`failed`: the cameras that could not even be opened (no worker), with their errors;
    `supervised`: what the supervisor runs (restarts, cameras and services given up on);
    `spool`: footage waiting for object storage, where there is an archive."""
    checks = [*check_schema(database), check_writable(data_dir)]
    if spool is not None:
        checks.append(check_spool(spool))
    if workers or failed:
        checks.append(check_workers(workers, failed, supervised))
    services = [s for s in supervised if s.camera_id is None]
    if services:
        checks.append(check_services(services))
    return Readiness(tuple(checks))


def check_schema(database: Database) -> tuple[Check, ...]:
    """The database answers (`database`), and then its schema is the newest this citywatch
    knows (`schema`; not judged while the database does not answer)."""
    head = head_revision()
    try:
        revision = database.schema_revision()
    except CitywatchError as exc:
        return (Check("database", False, f"the database does not answer: {exc}"),)
    answers = Check("database", True, "answers")
    if revision != head:
        return answers, Check("schema", False, f"schema at revision {revision or 'none'}, not at head {head}")
    return answers, Check("schema", True, f"at head {head}")


def check_writable(data_dir: Path) -> Check:
    """The data folder takes a new file (crops, footage and exports are written there)."""
    try:
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".ready-"):
            pass
    except OSError as exc:
        return Check("data_dir", False, f"{data_dir} is not writable: {exc.strerror or exc}")
    return Check("data_dir", True, f"{data_dir} is writable")


def check_workers(
    workers: Sequence[CameraWorker],
    failed: Sequence[CameraStatus] = (),
    supervised: Sequence[ChildStatus] = (),
) -> Check:
    """Each camera's worker (the newest, from LiveCameras) is at work: it has not failed, and
    if live and started it has not stopped; and no camera failed to open. A file read to its
    end is done, not dead; a worker not started yet is starting. A dead worker the supervisor
    is restarting, or has given up on, says so."""
    by_camera = {s.camera_id: s for s in supervised if s.camera_id is not None}
    dead = [f"{status.camera_id} (failed to open: {status.error})" for status in failed]
    for w in workers:
        status = w.status()
        if status.state == "failed" or (w.live and w.started and w.done):
            dead.append(f"{status.camera_id} ({_why(by_camera.get(status.camera_id), status)})")
    if dead:
        return Check("cameras", False, "camera workers not running: " + ", ".join(dead), critical=False)
    return Check("cameras", True, f"{len(workers)} camera worker(s) at work", critical=False)


def _why(supervised: ChildStatus | None, status: CameraStatus) -> str:
    error = status.error or status.state
    if supervised is None or (supervised.restarts == 0 and supervised.state is not ChildState.RESTARTING):
        return error
    if supervised.state is ChildState.RESTARTING:
        wait = supervised.restart_in_s or 0
        return f"restarting in {wait:.0f} s after {supervised.restarts} restart(s): {error}"
    if supervised.state is ChildState.FAILED:
        return f"failed: {supervised.error or error}"
    return f"{error}; {supervised.restarts} restart(s)"


def check_services(services: Sequence[ChildStatus]) -> Check:
    """The supervised services (purge, order enforcement, delivery) run; one that died is being
    restarted or was given up on: degraded, not down (the cameras and the console go on)."""
    down = [
        f"{s.name} ({s.state}: {s.error})"
        for s in services
        if s.state in (ChildState.RESTARTING, ChildState.FAILED)
    ]
    if down:
        return Check("services", False, "services not running: " + ", ".join(down), critical=False)
    return Check("services", True, f"{len(services)} service(s) running", critical=False)


SPOOL_ALARM_S = 300.0
"""Footage older than this still in the spool raises the alarm: the archive is away or slow."""


def check_spool(spool: Spool) -> Check:
    """Footage goes on being recorded into the spool while object storage is away; the
    alarm says so, with why, before the spool's disk fills."""
    waiting = f"{spool.segments} segment(s), {spool.bytes / 1e6:.1f} MB, oldest {spool.oldest_s:.0f} s"
    if spool.last_error is not None or spool.oldest_s > SPOOL_ALARM_S:
        why = spool.last_error or "the archive is behind"
        return Check("footage archive", False, f"footage spooled locally ({waiting}): {why}", critical=False)
    return Check("footage archive", True, f"in object storage; spooled: {waiting}", critical=False)
