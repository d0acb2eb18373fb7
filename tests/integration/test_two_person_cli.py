"""The two-person rule from the command line: enrolments and looser thresholds wait for a
second person, alerts need two confirmations; the local shell user cannot be both people."""

from __future__ import annotations

from pathlib import Path

from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime, build_runtime
from tests.fakes.accounts import own_token
from tests.integration.cli_helpers import SECOND_PERSON, approve_pending, citywatch, enroll
from tests.store.helpers import a_match, sighting


def in_process(workdir: Path) -> Runtime:
    return build_runtime(Settings(data_dir=workdir / "data"))


def token_for(rt: Runtime, name: str, role: str, cameras: list[str] | None = None) -> dict[str, str]:
    """The environment that signs `name` in (a new user with a new token)."""
    rt.users.add_user(name, role, cameras)
    return {"CITYWATCH_TOKEN": own_token(rt.users, name, "test").token}


def test_enrolment_waits_for_a_second_person(tmp_path: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    enrolled = enroll(tmp_path, shared_data, "Barack Obama", ex / "obama.jpg", approve=False)
    assert enrolled.code == 0, enrolled.stderr
    assert "person 1 pending approval" in enrolled.stdout
    assert (
        "pending change #1: needs a second person (supervisor) to approve: citywatch changes approve 1"
        in (enrolled.stdout)
    )
    assert "pending" in citywatch(tmp_path, shared_data, "persons", "list").stdout

    (change,) = citywatch(tmp_path, shared_data, "changes", "list", "--json").json_lines()
    assert (change["kind"], change["object"], change["status"]) == ("person.add", "person:1", "pending")

    own = citywatch(tmp_path, shared_data, "changes", "approve", "1")
    assert own.code == 5 and "has not signed in" in own.stderr, own.stderr  # the local shell user

    assert approve_pending(tmp_path) == [1]
    assert "active" in citywatch(tmp_path, shared_data, "persons", "list").stdout
    assert citywatch(tmp_path, shared_data, "changes", "list", "--json").json_lines() == []
    everything = citywatch(tmp_path, shared_data, "changes", "list", "--all", "--json").json_lines()
    assert [(c["status"], c["decided_by"]) for c in everything] == [("applied", SECOND_PERSON.name)]

    audit = citywatch(tmp_path, shared_data, "audit", "list", "--json")
    actions = [r["action"] for r in audit.json_lines()]
    assert {"change.propose", "change.approve_refused", "change.approve"} <= set(actions)


def test_a_looser_threshold_waits_a_stricter_one_applies(tmp_path: Path, shared_data: Path) -> None:
    assert citywatch(tmp_path, shared_data, "watchlists", "create", "wanted", "--threshold", "0.5").code == 0
    stricter = citywatch(tmp_path, shared_data, "watchlists", "set-threshold", "wanted", "0.45")
    assert stricter.code == 0 and stricter.stdout.startswith("applied"), stricter.stderr
    looser = citywatch(tmp_path, shared_data, "watchlists", "set-threshold", "wanted", "0.6")
    assert looser.code == 0, looser.stderr
    assert (
        "pending change #1: needs a second person (supervisor) to approve: citywatch changes approve 1"
        in (looser.stdout)
    )
    assert "0.45" in citywatch(tmp_path, shared_data, "watchlists", "list").stdout
    refused = citywatch(tmp_path, shared_data, "changes", "refuse", "1", "--reason", "too loose")
    assert refused.code == 0 and "refused" in refused.stdout


def test_an_alert_needs_two_people(tmp_path: Path, shared_data: Path) -> None:
    rt = build_runtime(Settings(data_dir=tmp_path / "data"))
    try:
        saved = rt.sightings.add_sighting(sighting(match=a_match(1, 1)))
    finally:
        rt.close()
    assert saved.alert_id == 1
    first = citywatch(tmp_path, shared_data, "alerts", "confirm", "1")
    assert first.code == 0, first.stderr
    assert "1 of 2 confirmations; a second person must confirm" in first.stdout
    again = citywatch(tmp_path, shared_data, "alerts", "confirm", "1")
    assert again.code == 5 and "has not signed in" in again.stderr  # the local shell user

    rt = build_runtime(Settings(data_dir=tmp_path / "data"))
    try:
        assert rt.alert_reviews.confirm(1, SECOND_PERSON).alert.status == "confirmed"
    finally:
        rt.close()
    late = citywatch(tmp_path, shared_data, "alerts", "dismiss", "1", "--reason", "too late")
    assert late.code != 0 and "already confirmed" in late.stderr


def test_removal_says_it_never_waits(tmp_path: Path, shared_data: Path) -> None:
    helped = citywatch(tmp_path, shared_data, "persons", "remove", "--help")
    assert "erasure never waits" in " ".join(helped.stdout.split())


def test_a_move_to_another_watchlist_waits_and_its_proposer_may_withdraw_it(
    tmp_path: Path, shared_data: Path
) -> None:
    rt = in_process(tmp_path)
    try:
        rt.watchlists.create_watchlist("wanted")
        rt.watchlists.create_watchlist("missing", "missing")
        person = rt.watchlists.add_person("wanted", "Ann Example")
        ada = token_for(rt, "ada", "admin")  # watchlists.manage, not changes.approve
    finally:
        rt.close()
    moved = citywatch(tmp_path, shared_data, "persons", "update", str(person.id), "-w", "missing", env=ada)
    assert moved.code == 0, moved.stderr
    assert (
        f"move of person {person.id} from watchlist 'wanted' to 'missing' pending approval; the person "
        "stays on 'wanted' until then; pending change #1: needs a second person (supervisor) to "
        "approve: citywatch changes approve 1"
    ) in " ".join(moved.stdout.split())
    rt = in_process(tmp_path)
    try:
        assert rt.watchlists.get_person(person.id).watchlist_name == "wanted"
        (change,) = rt.changes.list_changes()
        assert (change.kind, change.proposed_by) == ("person.move", "ada")
    finally:
        rt.close()
    withdrawn = citywatch(tmp_path, shared_data, "changes", "refuse", "1", env=ada)
    assert withdrawn.code == 0, withdrawn.stderr
    assert "change 1 (person.move on person:1) refused (withdrawn by its proposer)" in withdrawn.stdout


def test_a_new_watchlist_with_a_looser_threshold_starts_at_the_default(
    tmp_path: Path, shared_data: Path
) -> None:
    created = citywatch(tmp_path, shared_data, "watchlists", "create", "loose", "--threshold", "0.7")
    assert created.code == 0, created.stderr
    said = " ".join(created.stdout.split())
    assert "created watchlist 'loose' (id 1)" in said
    assert (
        "pending change #1: needs a second person (supervisor) to approve: citywatch changes approve 1"
        in said
    )
    assert "(watchlist 'loose' threshold stays 0.6 until then: 0.7 would match more faces)" in said
    rt = in_process(tmp_path)
    try:
        assert rt.watchlists.get_watchlist("loose").threshold is None  # the configured default
        assert [c.params["to"] for c in rt.changes.list_changes()] == [0.7]
    finally:
        rt.close()


def test_a_camera_scoped_user_may_not_act_on_another_cameras_alert(tmp_path: Path, shared_data: Path) -> None:
    rt = in_process(tmp_path)
    try:
        saved = rt.sightings.add_sighting(sighting(camera_id="lobby", match=a_match(1, 1, person_name="Ann")))
        olga = token_for(rt, "olga", "operator", ["gate-1"])
    finally:
        rt.close()
    refused = citywatch(tmp_path, shared_data, "alerts", "confirm", str(saved.alert_id), env=olga)
    assert refused.code == 5
    assert "olga may not use camera(s) lobby (limited to: gate-1)" in refused.stderr
    assert "Ann" not in refused.stdout + refused.stderr
    rt = in_process(tmp_path)
    try:
        (alert,) = rt.alerts.list_alerts()
        assert alert.status == "new"
        last = list(rt.audit_log.entries())[-1]
        assert (last.action, last.actor, last.params["cameras"]) == ("access.refused", "olga", ["lobby"])
    finally:
        rt.close()
