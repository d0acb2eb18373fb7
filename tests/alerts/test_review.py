"""Acting on a match: an alert is confirmed only by two distinct people, never by a service token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from citywatch.domain.audit import Actor
from citywatch.domain.errors import Conflict, NotFound, OutOfScope, PermissionDenied
from citywatch.domain.records import AlertStatus
from citywatch.store.watchlist_tables import NonMatchRow
from tests.fakes.two_person_env import ANN, BOB, BOT, OLA, TwoPersonEnv, two_person_env
from tests.store.helpers import MODEL, T0, a_match, sighting, vector

EVE = Actor("eve", "auditor")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TwoPersonEnv]:
    e = two_person_env(tmp_path)
    yield e
    e.close()


@pytest.fixture
def alert_id(env: TwoPersonEnv) -> int:
    saved = env.store.sightings.add_sighting(sighting(match=a_match(1, 1)))
    assert saved.alert_id is not None
    return saved.alert_id


def status(env: TwoPersonEnv, alert_id: int) -> AlertStatus:
    (alert,) = [a for a in env.store.alerts.list_alerts() if a.id == alert_id]
    return alert.status


def test_two_distinct_people_confirm_an_alert(env: TwoPersonEnv, alert_id: int) -> None:
    first = env.alerts.confirm(alert_id, ANN)
    assert first.alert.status is AlertStatus.ACKNOWLEDGED and first.confirmed_by == ("ann",)
    second = env.alerts.confirm(alert_id, BOB)
    assert second.alert.status is AlertStatus.CONFIRMED and second.confirmed_by == ("ann", "bob")
    assert status(env, alert_id) is AlertStatus.CONFIRMED
    records = env.records("alert.confirm")
    assert [(r.actor, r.object, r.params["confirmations"]) for r in records] == [
        ("ann", f"alert:{alert_id}", 1),
        ("bob", f"alert:{alert_id}", 2),
    ]
    assert records[-1].params["status"] == "confirmed"


def test_the_same_person_twice_is_refused_and_audited(env: TwoPersonEnv, alert_id: int) -> None:
    env.alerts.confirm(alert_id, ANN)
    with pytest.raises(PermissionDenied, match="ann was the first person and cannot also be the second"):
        env.alerts.confirm(alert_id, Actor("ann", "operator"))
    assert status(env, alert_id) is AlertStatus.ACKNOWLEDGED
    (refusal,) = env.records("alert.confirm_refused")
    assert refusal.actor == "ann" and refusal.params["confirmed_by"] == ["ann"]


@pytest.mark.parametrize("first_is_person", [True, False])
def test_a_service_token_never_confirms(env: TwoPersonEnv, alert_id: int, first_is_person: bool) -> None:
    if first_is_person:
        env.alerts.confirm(alert_id, ANN)
    with pytest.raises(PermissionDenied, match="bot acts through a service token"):
        env.alerts.confirm(alert_id, BOT)
    assert status(env, alert_id) is (AlertStatus.ACKNOWLEDGED if first_is_person else AlertStatus.NEW)
    assert len(env.records("alert.confirm_refused")) == 1


@pytest.mark.parametrize("again", ["ANN", " Ann "])
def test_the_same_name_in_another_case_is_the_same_person(
    env: TwoPersonEnv, alert_id: int, again: str
) -> None:
    env.alerts.confirm(alert_id, ANN)
    with pytest.raises(PermissionDenied, match="was the first person and cannot also be the second"):
        env.alerts.confirm(alert_id, Actor(again, "supervisor"))
    assert status(env, alert_id) is AlertStatus.ACKNOWLEDGED


def test_the_second_confirmer_needs_the_permission(env: TwoPersonEnv, alert_id: int) -> None:
    env.alerts.confirm(alert_id, ANN)
    with pytest.raises(PermissionDenied, match=r"lacks the alerts\.act permission"):
        env.alerts.confirm(alert_id, EVE)


def test_a_confirmed_alert_cannot_be_dismissed(env: TwoPersonEnv, alert_id: int) -> None:
    env.alerts.confirm(alert_id, ANN)
    env.alerts.confirm(alert_id, BOB)
    for step in (
        lambda: env.alerts.dismiss(alert_id, ANN, "changed my mind"),
        lambda: env.alerts.acknowledge(alert_id, ANN),
        lambda: env.alerts.confirm(alert_id, Actor("cid", "operator")),
    ):
        with pytest.raises(Conflict, match="already confirmed and cannot change again"):
            step()
    assert status(env, alert_id) is AlertStatus.CONFIRMED


def test_acknowledge_then_dismiss(env: TwoPersonEnv, alert_id: int) -> None:
    assert env.alerts.acknowledge(alert_id, ANN).alert.status is AlertStatus.ACKNOWLEDGED
    env.alerts.confirm(alert_id, ANN)  # one confirmation does not stop a second person dismissing it
    dismissed = env.alerts.dismiss(alert_id, BOB, "not the same person")
    assert dismissed.alert.status is AlertStatus.DISMISSED
    with pytest.raises(Conflict, match="already dismissed"):
        env.alerts.confirm(alert_id, BOB)
    assert [(r.action, r.actor) for r in env.records() if r.action.startswith("alert.")] == [
        ("alert.acknowledge", "ann"),
        ("alert.confirm", "ann"),
        ("alert.dismiss", "bob"),
    ]
    assert env.records("alert.dismiss")[0].params == {"reason": "not the same person"}
    assert env.log.verify().ok


def test_an_unknown_alert(env: TwoPersonEnv) -> None:
    with pytest.raises(NotFound):
        env.alerts.confirm(42, ANN)
    with pytest.raises(NotFound):
        env.alerts.camera_of(42)


GATE_1 = frozenset({"gate-1"})


def test_a_camera_scoped_user_acts_only_on_their_cameras_alerts(env: TwoPersonEnv, alert_id: int) -> None:
    assert env.alerts.camera_of(alert_id) == "cam-1"
    olga = Actor("olga", "operator", cameras=GATE_1)
    steps: dict[str, Callable[[], object]] = {
        "alert.acknowledge": lambda: env.alerts.acknowledge(alert_id, olga),
        "alert.confirm": lambda: env.alerts.confirm(alert_id, olga),
        "alert.dismiss": lambda: env.alerts.dismiss(alert_id, olga, "not mine"),
    }
    for step in steps.values():
        with pytest.raises(OutOfScope, match=f"^no alert with id {alert_id}$") as refused:
            step()  # answered as an alert that does not exist
        assert "Ann" not in str(refused.value)  # the person's name is not told
    assert status(env, alert_id) is AlertStatus.NEW
    refusals = env.records("access.refused")
    assert [(r.actor, r.object, r.params["action"]) for r in refusals] == [
        ("olga", f"alert:{alert_id}", action) for action in steps
    ]
    assert refusals[0].params["cameras"] == ["cam-1"]
    assert all("Ann" not in str(r.params) for r in refusals)
    assert env.records("alert.confirm") == []

    at_the_gate = env.store.sightings.add_sighting(sighting(camera_id="gate-1", match=a_match(1, 1))).alert_id
    assert at_the_gate is not None
    assert env.alerts.acknowledge(at_the_gate, olga).alert.status is AlertStatus.ACKNOWLEDGED


def test_out_of_scope_comes_before_the_alerts_state(env: TwoPersonEnv, alert_id: int) -> None:
    env.alerts.dismiss(alert_id, ANN)
    with pytest.raises(OutOfScope, match=f"^no alert with id {alert_id}$"):
        env.alerts.confirm(alert_id, Actor("olga", "operator", cameras=GATE_1))


def test_who_and_when_of_each_step_are_kept_on_the_alert(env: TwoPersonEnv, alert_id: int) -> None:
    env.alerts.acknowledge(alert_id, OLA)
    env.alerts.confirm(alert_id, ANN)  # the first to look at it stays the one who acknowledged it
    done = env.alerts.confirm(alert_id, BOB).alert
    assert (done.acknowledged_by, done.decided_by, done.dismiss_reason) == ("ola", "bob", None)
    assert done.acknowledged_at is not None and done.decided_at is not None
    assert done.created_at <= done.acknowledged_at <= done.decided_at
    (listed,) = env.store.alerts.list_alerts()
    assert listed == done

    other = env.store.sightings.add_sighting(sighting(camera_id="gate-1", match=a_match(1, 1))).alert_id
    assert other is not None
    dismissed = env.alerts.dismiss(other, ANN, "  nothing to do ").alert
    assert (dismissed.acknowledged_by, dismissed.decided_by) == (None, "ann")
    assert dismissed.dismiss_reason == "nothing to do" and dismissed.decided_at is not None


def test_a_false_match_is_remembered_with_the_sightings_face(env: TwoPersonEnv) -> None:
    env.store.watchlists.create_watchlist("wanted")
    env.store.watchlists.add_person("wanted", "Ann Example")
    face = vector(3)
    saved = env.store.sightings.add_sighting(sighting(match=a_match(1, 1), template=face))
    assert saved.alert_id is not None
    review = env.alerts.dismiss(saved.alert_id, BOB, "her sister", false_match=True)
    assert review.alert.dismiss_reason == "false match: her sister"
    assert review.non_match_id is not None and review.not_remembered == ""
    (remembered,) = env.store.watchlists.non_matches(MODEL)
    assert remembered.person_id == 1 and remembered.vector.tolist() == face.tolist()
    assert env.store.watchlists.non_matches("another-model") == []
    with env.db.session(write=False) as session:
        row = session.get(NonMatchRow, review.non_match_id)
        assert row is not None
        assert (row.alert_id, row.camera_id, row.recorded_by, row.seen_at) == (
            saved.alert_id,
            "cam-1",
            "bob",
            T0,
        )
    (dismissal,) = env.records("alert.dismiss")
    assert dismissal.params == {"reason": "her sister", "false_match": True, "non_match": review.non_match_id}
    (recorded,) = env.records("non_match.record")
    assert (recorded.actor, recorded.object) == ("bob", f"non_match:{review.non_match_id}")
    assert recorded.params == {"alert": saved.alert_id, "person_id": 1, "camera": "cam-1"}
    assert env.log.verify().ok


@pytest.mark.parametrize("why", ["no template", "person removed"])
def test_a_false_match_with_nothing_to_remember_says_why(env: TwoPersonEnv, why: str) -> None:
    if why == "person removed":
        env.store.watchlists.create_watchlist("wanted")
        env.store.watchlists.add_person("wanted", "Ann Example")
        saved = env.store.sightings.add_sighting(sighting(match=a_match(1, 1), template=vector(3)))
        env.store.watchlists.remove_person(1)
        expected = "the person has been removed since"
    else:  # a sighting kept without its template (its retention has passed)
        env.store.watchlists.create_watchlist("wanted")
        env.store.watchlists.add_person("wanted", "Ann Example")
        saved = env.store.sightings.add_sighting(sighting(match=a_match(1, 1), template=None))
        expected = "the sighting's template is no longer kept"
    assert saved.alert_id is not None
    review = env.alerts.dismiss(saved.alert_id, ANN, false_match=True)
    assert review.alert.status is AlertStatus.DISMISSED and review.alert.dismiss_reason == "false match"
    assert review.non_match_id is None and expected in review.not_remembered
    assert env.store.watchlists.non_matches(MODEL) == []
    (dismissal,) = env.records("alert.dismiss")
    assert dismissal.params["non_match"] is None and expected in dismissal.params["not_remembered"]
    assert env.records("non_match.record") == []
