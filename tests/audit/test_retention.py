"""The purge prunes audit records past `retention.audit_days` (400 by default) in its own
transaction, counts them in its receipt, leaves a chain that verifies, and a dry run and the
CLI say so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citywatch.cli.main import app
from citywatch.config.settings import Settings
from citywatch.domain.audit import AuditEvent
from citywatch.runtime import build
from citywatch.runtime.build import Runtime
from tests.databases import stray_settings
from tests.store.helpers import Clock

DAY = timedelta(days=1)
NOW = datetime.now(UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The runtime's clock (the purge's `now`); audit records keep their own wall-clock time."""
    c = Clock(NOW)
    monkeypatch.setattr(build, "utc_now", c)
    return c


@pytest.fixture
def rt(tmp_path: Path, clock: Clock) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


def old_records(rt: Runtime, n: int, *, age: timedelta, marker: str = "") -> None:
    with rt.database.session() as s:
        for i in range(n):
            rt.audit_log.append(
                s,
                actor="ann@local",
                role="admin",
                action="camera.start",
                object=f"camera:{marker}{i}",
                at=NOW - age + i * timedelta(seconds=1),
            )


def test_records_older_than_400_days_go_with_a_receipt_and_the_chain_verifies(
    rt: Runtime, clock: Clock
) -> None:
    old_records(rt, 5, age=450 * DAY)
    rt.audit(AuditEvent("camera.start", "camera:recent"))
    assert rt.purge() is not None
    (receipt,) = rt.purger.receipts()
    assert receipt.counts["audit"] == 5
    audit = receipt.details["audit"]
    assert audit["seq_range"] == [1, 5] and audit["count"] == 5 and audit["anchor"]["seq"] == 5
    entries = rt.audit_log.entries()
    assert [e.seq for e in entries] == [6, 7, 8]
    assert [e.action for e in entries] == ["camera.start", "audit.prune", "receipt.purge"]
    assert receipt.audit_seq == 8 and audit["prune_record"] == 7
    verdict = rt.audit_log.verify()
    assert verdict.ok and verdict.anchor is not None and verdict.anchor.seq == 5
    assert rt.purge() is None  # idempotent: nothing else is due


def test_the_purge_prunes_after_400_days_not_before(rt: Runtime, clock: Clock) -> None:
    rt.audit(AuditEvent("camera.start", "camera:gate"))
    rt.audit(AuditEvent("camera.stop", "camera:gate"))
    clock.now = NOW + 399 * DAY
    assert rt.purger.plan().audit is None
    assert rt.purge() is None
    clock.now = NOW + 401 * DAY
    plan = rt.purger.plan()
    assert plan.audit is not None and plan.counts["audit"] == 2
    receipt = rt.purge()
    assert receipt is not None and receipt.counts["audit"] == 2
    assert receipt.details["audit"]["seq_range"] == [1, 2]
    assert [e.action for e in rt.audit_log.entries()] == ["audit.prune", "receipt.purge"]
    assert rt.audit_log.verify().ok
    assert rt.purge() is None


@pytest.mark.sqlite
def test_pruned_records_are_gone_from_every_file(rt: Runtime, clock: Clock, tmp_path: Path) -> None:
    old_records(rt, 3, age=500 * DAY, marker="CANARY-AUDIT-")
    rt.audit(AuditEvent("camera.start", "camera:recent"))
    rt.database.checkpoint()

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())

    assert b"CANARY-AUDIT-" in on_disk()
    assert rt.purge() is not None
    assert b"CANARY-AUDIT-" not in on_disk()
    assert rt.audit_log.verify().ok


def test_the_cli_dry_run_counts_and_verify_reports_the_anchor(
    rt: Runtime, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_records(rt, 4, age=420 * DAY)
    rt.audit(AuditEvent("camera.start", "camera:recent"))
    rt.close()
    for key in stray_settings():
        monkeypatch.delenv(key)
    env = {"CITYWATCH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    runner = CliRunner()

    result = runner.invoke(app, ["purge", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "audit records 1–4" in result.output and "would be pruned" in result.output
    assert len(rt.audit_log.entries()) == 5  # a dry run deletes nothing

    result = runner.invoke(app, ["purge"], env=env)
    assert result.exit_code == 0, result.output
    assert "4 audit records" in result.output and "audit records 1–4 pruned" in result.output

    result = runner.invoke(app, ["audit", "verify"], env=env)
    assert result.exit_code == 0, result.output
    assert "audit log intact" in result.output
    assert "records 1–4 pruned under retention" in result.output and "anchored and signed at" in result.output
