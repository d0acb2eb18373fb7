"""Sensitive actions leave chained audit records; tampering is found and named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.databases import metadata_sql
from tests.integration.cli_helpers import authorise, citywatch, enroll


@pytest.mark.slow
def test_actions_are_audited_and_tampering_is_found(tmp_path: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    assert enroll(tmp_path, shared_data, "Lin-Manuel Miranda", ex / "lin-manuel-miranda.png").code == 0
    assert (
        citywatch(tmp_path, shared_data, "persons", "update", "1", "--notes", "seen at the theatre").code == 0
    )
    authorise(tmp_path, ["watch"])
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
        "--authorisation",
        "AUTH-TEST",
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
    local = next(r["actor"] for r in listed)
    assert local.endswith("@local")
    # the refused enrolment wrote nothing: its transaction never committed
    assert [(r["action"], r["actor"]) for r in listed] == [
        ("watchlist.create", local),
        ("person.enrol", local),
        ("change.propose", local),
        ("change.approve", "second-person@test"),  # two-person rule
        ("person.update", local),
        ("authorisation.request", "first-person@test"),
        ("watchlist.bind", "first-person@test"),
        ("authorisation.approve", "second-person@test"),
        ("camera.start", local),
        ("camera.mode", "citywatch@system"),  # the policy acting, not a person
        ("camera.stop", local),
        ("search.photo", local),
        ("person.remove", local),
    ]
    assert [r["seq"] for r in listed] == list(range(1, 14))
    by_action = {r["action"]: r for r in listed}
    enrol = by_action["person.enrol"]
    assert enrol["legal_basis"] == "test fixture" and enrol["object"] == "person:1"
    assert by_action["camera.stop"]["result_count"] >= 1  # sightings stored while the camera ran
    mode = by_action["camera.mode"]
    assert (mode["params"]["mode"], mode["authorisation"]) == ("watchlist", "AUTH-TEST")
    search = by_action["search.photo"]
    assert (search["case"], search["legal_basis"], search["authorisation"]) == (
        "C-7",
        "court order 77",
        "AUTH-TEST",
    )

    ok = citywatch(tmp_path, shared_data, "audit", "verify")
    assert ok.code == 0 and "records 1–13 (13)" in ok.stdout

    db = metadata_sql(tmp_path / "data")
    with db:
        db.execute("UPDATE audit_records SET actor = 'nobody' WHERE seq = 3")
    bad = citywatch(tmp_path, shared_data, "audit", "verify")
    assert bad.code == 1
    assert "record 3" in bad.stderr and "changed" in bad.stderr


@pytest.mark.slow
def test_the_audit_log_holds_no_template(tmp_path: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    assert enroll(tmp_path, shared_data, "Lin-Manuel Miranda", ex / "lin-manuel-miranda.png").code == 0
    db = metadata_sql(tmp_path / "data")
    (template,) = db.execute("SELECT vector FROM templates").fetchone()
    rows = db.execute("SELECT * FROM audit_records").fetchall()
    text = repr(rows).encode()
    assert rows and template not in text and template.hex() not in repr(rows)
