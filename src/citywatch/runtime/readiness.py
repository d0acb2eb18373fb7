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
) -> Readiness:
    """`failed`: the cameras that could not even be opened (no worker), with their errors."""
    checks = [*check_schema(database), check_writable(data_dir)]
    if workers or failed:
        checks.append(check_workers(workers, failed))
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


def check_workers(workers: Sequence[CameraWorker], failed: Sequence[CameraStatus] = ()) -> Check:
    """Each camera's worker (the newest, from LiveCameras) is at work: it has not failed, and
    if live and started it has not stopped; and no camera failed to open. A file read to its
    end is done, not dead; a worker not started yet is starting."""
    dead = [f"{status.camera_id} (failed to open: {status.error})" for status in failed]
    for w in workers:
        status = w.status()
        if status.state == "failed" or (w.live and w.started and w.done):
            dead.append(f"{status.camera_id} ({status.error or status.state})")
    if dead:
        return Check("cameras", False, "camera workers not running: " + ", ".join(dead), critical=False)
    return Check("cameras", True, f"{len(workers)} camera worker(s) at work", critical=False)
