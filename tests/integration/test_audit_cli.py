"""Sensitive actions leave chained audit records; tampering is found and named."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.integration.cli_helpers import citywatch, enroll


@pytest.mark.slow
def test_actions_are_audited_and_tampering_is_found(tmp_path: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    assert enroll(tmp_path, shared_data, "Lin-Manuel Miranda", ex / "lin-manuel-miranda.png").code == 0
    assert (
        citywatch(tmp_path, shared_data, "persons", "update", "1", "--notes", "seen at the theatre").code == 0
    )
    assert citywatch(tmp_path, shared_data, "watch", str(ex / "short_hamilton_clip.mp4"), "--json").code == 0
    found = citywatch(
        tmp_path,
        shared_data,
        "search",
        str(ex / "lin-manuel-miranda.png"),
        "--case",
        "C-7",
        "--legal-basis",
        "court order 77",
        "--cameras",
        "watch",
        "--since",
        "1h",
    )
    assert found.code == 0, found.stderr
    assert citywatch(tmp_path, shared_data, "persons", "remove", "1", "--yes").code == 0
    refused = citywatch(
        tmp_path,
        shared_data,
        "enroll",
        str(ex / "obama.jpg"),
        "--name",
        "X",
        "--source",
        "s",
        "--legal-basis",
        " ",
    )
    assert refused.code == 2

    listed = citywatch(tmp_path, shared_data, "audit", "list", "--json").json_lines()
    assert [r["action"] for r in listed] == [
        "watchlist.create",
        "person.enrol",
        "person.update",
        "camera.start",
        "camera.stop",
        "search.photo",
        "person.remove",
    ]  # the refused enrolment wrote nothing, its transaction never committed
    assert [r["seq"] for r in listed] == list(range(1, 8))
    enrol = listed[1]
    assert enrol["legal_basis"] == "test fixture" and enrol["object"] == "person:1"
    assert listed[4]["result_count"] >= 1  # sightings stored while the camera ran
    assert all(r["actor"].endswith("@local") for r in listed)
    assert (listed[5]["case"], listed[5]["legal_basis"]) == ("C-7", "court order 77")

    ok = citywatch(tmp_path, shared_data, "audit", "verify")
    assert ok.code == 0 and "7 record(s)" in ok.stdout

    db = sqlite3.connect(tmp_path / "data/citywatch.db")
    with db:
        db.execute("UPDATE audit_records SET actor = 'nobody' WHERE seq = 3")
    bad = citywatch(tmp_path, shared_data, "audit", "verify")
    assert bad.code == 1
    assert "record 3" in bad.stderr and "changed" in bad.stderr


@pytest.mark.slow
def test_the_audit_log_holds_no_template(tmp_path: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    assert enroll(tmp_path, shared_data, "Lin-Manuel Miranda", ex / "lin-manuel-miranda.png").code == 0
    db = sqlite3.connect(tmp_path / "data/citywatch.db")
    (template,) = db.execute("SELECT vector FROM templates").fetchone()
    rows = db.execute("SELECT * FROM audit_records").fetchall()
    text = repr(rows).encode()
    assert rows and template not in text and template.hex() not in repr(rows)
