"""`citywatch transparency` in process (Typer's runner, the real app): public, as tables or
one JSON object, over a period given by dates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.config.pipeline import RetentionSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.retention.holds import HoldService
from citywatch.runtime.build import Runtime
from tests.databases import stray_settings
from tests.fakes.accounts import own_token
from tests.integration.cli_helpers import invoke as run
from tests.store.helpers import Clock, sighting

PURGED_AT = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key in stray_settings():
        monkeypatch.delenv(key)
    monkeypatch.setenv("CITYWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)  # no citywatch.yaml there
    rt = Runtime(Settings(data_dir=tmp_path / "data"))
    for i in range(3):
        rt.sightings.add_sighting(sighting(start=PURGED_AT - timedelta(days=6), track_id=i))
    retention = HoldService(
        rt.database,
        policy=RetentionSettings().policy(),
        clock=Clock(PURGED_AT),
        audit=rt._audit_as,
        remove_file=rt._remove_file,
    )
    assert retention.purger.purge(by=Actor("citywatch@system", "system", service=True)) is not None
    rt.users.add_user("otto", "operator")
    token = own_token(rt.users, "otto", "test").token
    rt.close()
    yield {"CITYWATCH_TOKEN": token}


def test_the_report_as_json_and_tables_for_anyone(env: dict[str, str]) -> None:
    code, text = run("transparency", "--json", env=env)  # an operator: the report is public
    assert code == 0, text
    (line,) = text.splitlines()
    report = json.loads(line)
    assert report["type"] == "transparency_report"
    assert (report["receipts"], report["deleted"]["sightings"]) == (1, 3)
    assert report["holds"] == {"in_force": 0, "by_reference": {"request": 0, "case": 0}}
    assert report["cameras"]["identifying"] == 0

    code, text = run("transparency", "--since", "2026-01-15", "--until", "2026-01-15")
    assert code == 0, text
    assert "1 deletion receipt(s) in the period" in text
    assert "0 hold(s) in force" in text and "cameras now: 0 of 0 identifying" in text

    code, text = run("transparency", "--json", "--since", "2026-01-16")  # after the purge
    assert code == 0 and json.loads(text)["receipts"] == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--since", "soon"], 2, "not a time"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], 2, "before it starts"),
    ],
)
def test_a_bad_period_is_refused(env: dict[str, str], args: list[str], code: int, message: str) -> None:
    got, text = run("transparency", *args)
    assert got == code and message in text, text
