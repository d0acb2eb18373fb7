"""A full disk while a purge writes its receipt: a clear `Unavailable` (exit code 4 from the
CLI), nothing deleted (the rows' transaction rolls back; files are only unlinked after the
commit), and once space is freed the next purge completes with its receipt."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from citywatch.cli.main import EXIT_CODES, app
from citywatch.config.pipeline import RetentionSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor, AuditEvent
from citywatch.domain.errors import Unavailable
from citywatch.retention import purge as retention_module
from citywatch.retention.holds import HoldService
from citywatch.runtime.build import Runtime
from tests.databases import stray_settings
from tests.store.helpers import T0, Clock, files_under, sighting, vector

SYSTEM = Actor("citywatch@system", "system", service=True)
LATER = T0 + timedelta(days=6)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


def seed(rt: Runtime) -> None:
    for i in range(3):
        rt.sightings.add_sighting(sighting(start=T0 + timedelta(minutes=i), template=vector(i), track_id=i))
    pending = rt.footage.begin_segment("cam-1", T0)
    pending.temp.write_bytes(b"mp4 segment")
    rt.footage.add_segment(pending, T0 + timedelta(minutes=1))


def state(rt: Runtime) -> tuple[list[int], list[int], list[Path], int]:
    """Sightings, segments, files on disk, receipts."""
    sightings = sorted(s.id for s in rt.sightings.list_sightings(limit=100))
    segments = [s.id for s in rt.footage.segments("cam-1", T0 - timedelta(days=1), LATER)]
    receipts = len(rt.purger.receipts())
    return (
        sightings,
        segments,
        files_under(rt.settings.data_dir / "blobs") + files_under(rt.footage.root),
        receipts,
    )


def database_full(monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> None:
    """SQLite reports SQLITE_FULL as the receipt row is written (after the rows' deletes)."""
    real = retention_module.write_receipt

    def full(session: Session, *args: Any, **kwargs: Any) -> Any:
        real(session, *args, **kwargs)
        raise sqlalchemy.exc.OperationalError(
            "INSERT INTO receipts …", {}, sqlite3.OperationalError("database or disk is full")
        )

    monkeypatch.setattr(retention_module, "write_receipt", full)


def no_space(monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> None:
    """ENOSPC while the receipt's audit record is written (e.g. the signing key's file)."""
    real = rt._audit_as

    def full(session: Session, actor: Actor, event: AuditEvent) -> None:
        real(session, actor, event)
        if event.action == "receipt.purge":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rt, "_audit_as", full)


FAULTS: list[Callable[[pytest.MonkeyPatch, Runtime], None]] = [database_full, no_space]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
def test_a_full_disk_deletes_nothing_and_the_next_purge_completes(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, fault: Callable[[pytest.MonkeyPatch, Runtime], None]
) -> None:
    seed(rt)
    before = state(rt)
    assert len(before[0]) == 3 and len(before[1]) == 1 and len(before[2]) == 4 and before[3] == 0
    fault(monkeypatch, rt)
    ret = HoldService(
        rt.database,
        policy=RetentionSettings().policy(),
        clock=Clock(LATER),
        audit=lambda s, a, e: rt._audit_as(s, a, e),  # noqa: PLW0108 (patched, then undone)
        remove_file=rt._remove_file,
    )
    with pytest.raises(Unavailable, match=r"purge not done, nothing deleted: .*disk full"):
        ret.purger.purge(by=SYSTEM)
    assert state(rt) == before  # every row and file still there, no receipt
    assert "receipt.purge" not in [e.action for e in rt.audit_log.entries()]

    monkeypatch.undo()  # space freed
    receipt = ret.purger.purge(by=SYSTEM)
    assert receipt is not None
    assert (receipt.counts["sightings"], receipt.counts["footage"]) == (3, 1)
    assert state(rt) == ([], [], [], 1)
    assert rt.audit_log.verify().ok


def test_the_cli_says_so_with_exit_code_4(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(rt)  # T0 has long passed by the real clock the command purges with
    before = state(rt)
    database_full(monkeypatch, rt)
    for key in stray_settings():
        monkeypatch.delenv(key)
    monkeypatch.setenv("CITYWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["purge"])
    assert isinstance(result.exception, Unavailable), result.output
    assert next(c for kind, c in EXIT_CODES if isinstance(result.exception, kind)) == 4
    assert "disk full" in str(result.exception) and "nothing deleted" in str(result.exception)
    assert state(rt) == before
