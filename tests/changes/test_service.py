"""The two-person rule on watchlists: looser thresholds and new members wait for a second person."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from citywatch.domain.audit import Actor
from citywatch.domain.clock import utc_now
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from citywatch.domain.records import ChangeKind, ChangeStatus, NewReference
from citywatch.store.watchlist_tables import FaceTemplate, ReferenceImage
from tests.fakes.two_person_env import ANN, BOB, BOT, OLA, TwoPersonEnv, two_person_env
from tests.store.helpers import MODEL, files_under, vector

JPEG = b"\xff\xd8 reference photo \xff\xd9"
DEFAULT_THRESHOLD = 0.55
DEFAULT_MARGIN = 0.04


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TwoPersonEnv]:
    e = two_person_env(tmp_path)
    e.store.watchlists.create_watchlist("wanted", threshold=0.5)
    yield e
    e.close()


def ref(seed: int = 1) -> NewReference:
    return NewReference(JPEG, ".jpg", "warrant file 2026-114", "court order 17/2026", MODEL, vector(seed))


def gallery_people(env: TwoPersonEnv) -> list[tuple[int, int]]:
    """(person id, template id) of everything matching runs against."""
    entries = env.store.watchlists.gallery(MODEL, utc_now(), DEFAULT_THRESHOLD, DEFAULT_MARGIN)
    return [(e.person_id, e.template_id) for e in entries]


# --- thresholds -------------------------------------------------------------------------


def test_lowering_the_threshold_applies_at_once(env: TwoPersonEnv) -> None:
    result = env.changes.set_threshold("wanted", 0.4, ANN, default=DEFAULT_THRESHOLD)
    assert result.applied and (result.before, result.requested) == (0.5, 0.4)
    assert env.store.watchlists.get_watchlist("wanted").threshold == 0.4
    assert env.changes.list_changes() == []
    (record,) = env.records("watchlist.threshold")
    assert (record.actor, record.object) == ("ann", "watchlist:1")
    assert record.params == {"watchlist": "wanted", "from": 0.5, "to": 0.4}


def test_raising_the_threshold_waits_for_a_second_person(env: TwoPersonEnv) -> None:
    result = env.changes.set_threshold("wanted", 0.6, ANN, default=DEFAULT_THRESHOLD)
    assert not result.applied and result.change is not None
    assert env.store.watchlists.get_watchlist("wanted").threshold == 0.5  # unchanged until approved
    (pending,) = env.changes.list_changes()
    assert pending == result.change
    assert (pending.kind, pending.status, pending.proposed_by) == (
        ChangeKind.WATCHLIST_THRESHOLD,
        ChangeStatus.PENDING,
        "ann",
    )
    (proposed,) = env.records("change.propose")
    assert proposed.params == {"kind": "watchlist.threshold", "watchlist": "wanted", "from": 0.5, "to": 0.6}

    applied = env.changes.approve(pending.id, BOB)
    assert (applied.status, applied.decided_by) == (ChangeStatus.APPLIED, "bob")
    assert applied.decided_at is not None
    assert env.store.watchlists.get_watchlist("wanted").threshold == 0.6
    (approval,) = env.records("change.approve")
    assert (approval.actor, approval.object, approval.params["proposed_by"]) == ("bob", "change:1", "ann")
    (tuned,) = env.records("watchlist.threshold")
    assert tuned.actor == "bob" and tuned.params["change"] == 1
    with pytest.raises(Conflict, match="already applied"):
        env.changes.approve(pending.id, Actor("cid", "supervisor"))


def test_a_watchlist_without_its_own_threshold_is_compared_with_the_default(env: TwoPersonEnv) -> None:
    env.store.watchlists.create_watchlist("missing", "missing")
    raised = env.changes.set_threshold("missing", 0.56, ANN, default=DEFAULT_THRESHOLD)
    assert not raised.applied and raised.before == DEFAULT_THRESHOLD
    lowered = env.changes.set_threshold("missing", 0.54, ANN, default=DEFAULT_THRESHOLD)
    assert lowered.applied and env.store.watchlists.get_watchlist("missing").threshold == 0.54


def test_the_margin_is_the_other_way_round(env: TwoPersonEnv) -> None:
    assert env.changes.set_margin("wanted", 0.1, ANN, default=DEFAULT_MARGIN).applied
    lowered = env.changes.set_margin("wanted", 0.01, ANN, default=DEFAULT_MARGIN)
    assert lowered.change is not None and lowered.change.kind is ChangeKind.WATCHLIST_MARGIN
    assert env.store.watchlists.get_watchlist("wanted").margin == 0.1
    env.changes.approve(lowered.change.id, BOB)
    assert env.store.watchlists.get_watchlist("wanted").margin == 0.01


@pytest.mark.parametrize(
    ("approver", "message"),
    [
        (ANN, "ann was the first person and cannot also be the second"),
        (Actor("Ann", "admin"), "Ann was the first person"),
        (BOT, "bot acts through a service token"),
        (OLA, "ola (role operator) lacks the changes.approve permission"),
    ],
)
def test_approval_needs_a_second_distinct_person(env: TwoPersonEnv, approver: Actor, message: str) -> None:
    change = env.changes.set_threshold("wanted", 0.6, ANN, default=DEFAULT_THRESHOLD).change
    assert change is not None
    with pytest.raises(PermissionDenied, match=re.escape(message)):
        env.changes.approve(change.id, approver)
    assert env.changes.get(change.id).status is ChangeStatus.PENDING
    assert env.store.watchlists.get_watchlist("wanted").threshold == 0.5
    (refusal,) = env.records("change.approve_refused")  # committed although the approval was not
    assert (refusal.actor, refusal.object) == (approver.name, f"change:{change.id}")
    assert message in refusal.params["reason"]
    assert refusal.params["proposed_by"] == "ann"
    assert env.records("change.approve") == []


def test_a_change_proposed_by_a_service_token_needs_more_than_one_person(env: TwoPersonEnv) -> None:
    change = env.changes.set_threshold("wanted", 0.6, BOT, default=DEFAULT_THRESHOLD).change
    assert change is not None and change.proposed_by_service
    with pytest.raises(PermissionDenied, match="bot acts through a service token"):
        env.changes.approve(change.id, BOB)


def test_refusing_leaves_the_watchlist_alone(env: TwoPersonEnv) -> None:
    change = env.changes.set_threshold("wanted", 0.6, ANN, default=DEFAULT_THRESHOLD).change
    assert change is not None
    refused = env.changes.refuse(change.id, BOB, "too loose for a wanted list")
    assert (refused.status, refused.decided_by, refused.note) == (
        ChangeStatus.REFUSED,
        "bob",
        "too loose for a wanted list",
    )
    assert env.store.watchlists.get_watchlist("wanted").threshold == 0.5
    (record,) = env.records("change.refuse")
    assert record.params["reason"] == "too loose for a wanted list"
    with pytest.raises(Conflict, match="already refused"):
        env.changes.approve(change.id, BOB)
    assert env.changes.list_changes() == []
    assert env.changes.list_changes(None) == [refused]


def test_withdrawing_needs_the_proposer_or_changes_approve(env: TwoPersonEnv) -> None:
    ada = Actor("ada", "admin")  # proposes (watchlists.manage) but may not approve
    change = env.changes.set_threshold("wanted", 0.6, ada, default=DEFAULT_THRESHOLD).change
    assert change is not None
    for other in (OLA, Actor("adam", "admin")):
        with pytest.raises(PermissionDenied, match=r"did not propose it and lacks the changes\.approve"):
            env.changes.refuse(change.id, other, "not mine to refuse")
    assert env.changes.get(change.id).status is ChangeStatus.PENDING
    refusals = env.records("change.refuse_refused")  # each committed although nothing changed
    assert [(r.actor, r.object, r.params["proposed_by"]) for r in refusals] == [
        ("ola", f"change:{change.id}", "ada"),
        ("adam", f"change:{change.id}", "ada"),
    ]
    assert env.records("change.refuse") == []

    withdrawn = env.changes.refuse(change.id, Actor(" ADA ", "admin"), "asked too much")  # same person
    assert (withdrawn.status, withdrawn.decided_by) == (ChangeStatus.REFUSED, " ADA ")
    assert env.store.watchlists.get_watchlist("wanted").threshold == 0.5


def test_unknown_changes_and_watchlists(env: TwoPersonEnv) -> None:
    with pytest.raises(NotFound):
        env.changes.approve(99, BOB)
    with pytest.raises(NotFound):
        env.changes.set_threshold("nope", 0.3, ANN, default=DEFAULT_THRESHOLD)


# --- new watchlists ---------------------------------------------------------------------------


def create(
    env: TwoPersonEnv, name: str, *, threshold: float | None = None, margin: float | None = None
) -> tuple[float | None, float | None, list[str]]:
    """Create `name` as ANN; returns its threshold, margin, and the settings left pending."""
    created = env.changes.create_watchlist(
        env.store.watchlists,
        name,
        ANN,
        threshold=threshold,
        margin=margin,
        default_threshold=DEFAULT_THRESHOLD,
        default_margin=DEFAULT_MARGIN,
    )
    stored = env.store.watchlists.get_watchlist(name)
    assert created.watchlist == stored
    pending = [t.setting for t in created.tuning if t.change is not None]
    assert len(pending) == len(created.tuning)  # only looser settings come back as changes
    return stored.threshold, stored.margin, pending


def test_a_new_watchlist_with_a_looser_threshold_starts_at_the_default(env: TwoPersonEnv) -> None:
    assert create(env, "loose", threshold=0.7, margin=0.01) == (None, None, ["threshold", "margin"])
    threshold, margin = env.changes.list_changes()
    assert (threshold.kind, threshold.object, threshold.proposed_by) == (
        ChangeKind.WATCHLIST_THRESHOLD,
        "watchlist:2",
        "ann",
    )
    assert threshold.params == {"watchlist": "loose", "from": DEFAULT_THRESHOLD, "to": 0.7}
    assert margin.params == {"watchlist": "loose", "from": DEFAULT_MARGIN, "to": 0.01}
    (made,) = [r for r in env.records("watchlist.create") if r.object == "watchlist:2"]
    assert (made.params["threshold"], made.params["margin"]) == (None, None)

    with pytest.raises(PermissionDenied, match="cannot also be the second"):
        env.changes.approve(threshold.id, Actor("Ann", "supervisor"))
    env.changes.approve(threshold.id, BOB)
    env.changes.approve(margin.id, BOB)
    looser = env.store.watchlists.get_watchlist("loose")
    assert (looser.threshold, looser.margin) == (0.7, 0.01)


def test_a_new_watchlist_with_stricter_settings_applies_them_at_once(env: TwoPersonEnv) -> None:
    assert create(env, "strict", threshold=0.4, margin=0.1) == (0.4, 0.1, [])
    assert create(env, "as-default", threshold=DEFAULT_THRESHOLD, margin=DEFAULT_MARGIN) == (
        DEFAULT_THRESHOLD,
        DEFAULT_MARGIN,
        [],
    )
    assert create(env, "mixed", threshold=0.45, margin=0.0) == (0.45, None, ["margin"])
    assert [c.params["watchlist"] for c in env.changes.list_changes()] == ["mixed"]


@pytest.mark.parametrize("settings", [{"threshold": float("nan")}, {"threshold": 0.0}, {"margin": -0.1}])
def test_a_new_watchlist_with_a_bad_setting_is_not_created(
    env: TwoPersonEnv, settings: dict[str, float]
) -> None:
    with pytest.raises(InvalidInput):
        create(env, "bad", **settings)
    with pytest.raises(NotFound):
        env.store.watchlists.get_watchlist("bad")


# --- new members ----------------------------------------------------------------------------


def test_a_proposed_person_is_not_matched_until_a_second_person_approves(env: TwoPersonEnv) -> None:
    person = env.store.watchlists.enroll(
        [ref()], watchlist_name="wanted", display_name="Ann Example", proposer=ANN
    )
    assert (person.status, person.proposed_by, person.approved_by) == ("pending", "ann", "")
    assert gallery_people(env) == []
    (change,) = env.changes.list_changes()
    assert (change.kind, change.object) == (ChangeKind.PERSON_ADD, f"person:{person.id}")
    assert change.params == {"person_id": person.id, "watchlist": "wanted", "reference_ids": [1]}
    (proposed,) = env.records("change.propose")
    assert proposed.actor == "ann" and proposed.params["kind"] == "person.add"

    with pytest.raises(PermissionDenied, match="cannot also be the second"):
        env.changes.approve(change.id, ANN)
    assert gallery_people(env) == []

    env.changes.approve(change.id, BOB)
    approved = env.store.watchlists.get_person(person.id)
    assert (approved.status, approved.approved_by) == ("active", "bob")
    assert [p for p, _t in gallery_people(env)] == [person.id]


def test_new_reference_images_of_an_active_person_are_held_back(env: TwoPersonEnv) -> None:
    person = env.store.watchlists.enroll(
        [ref(1)], watchlist_name="wanted", display_name="Ann"
    )  # active: no proposer
    ((_, first_template),) = gallery_people(env)
    env.store.watchlists.enroll([ref(2)], person_id=person.id, proposer=ANN)
    assert gallery_people(env) == [(person.id, first_template)]
    (change,) = env.changes.list_changes()
    assert change.kind is ChangeKind.PERSON_REFERENCE and change.params["reference_ids"] == [2]
    env.changes.approve(change.id, BOB)
    assert len(gallery_people(env)) == 2


def test_a_refused_person_is_erased(env: TwoPersonEnv, tmp_path: Path) -> None:
    person = env.store.watchlists.enroll(
        [ref(1), ref(2)], watchlist_name="wanted", display_name="Ann", proposer=ANN
    )
    env.store.watchlists.enroll([ref(3)], person_id=person.id, proposer=ANN)
    first, more = env.changes.list_changes()
    refused = env.changes.refuse(first.id, BOB, "no legal basis")
    assert refused.status is ChangeStatus.REFUSED
    with pytest.raises(NotFound):
        env.store.watchlists.get_person(person.id)
    assert files_under(tmp_path / "blobs" / "references") == []
    with env.db.session(write=False) as s:
        assert s.scalar(select(func.count(FaceTemplate.id))) == 0
    withdrawn = env.changes.get(more.id)
    assert (withdrawn.status, withdrawn.decided_by) == (ChangeStatus.REFUSED, "bob")
    assert "withdrawn" in withdrawn.note
    (record,) = env.records("change.refuse")
    assert (record.actor, record.result_count) == ("bob", 3)


def test_refused_reference_images_are_erased_and_the_person_stays(env: TwoPersonEnv, tmp_path: Path) -> None:
    person = env.store.watchlists.enroll([ref(1)], watchlist_name="wanted", display_name="Ann")
    env.store.watchlists.enroll([ref(2), ref(3)], person_id=person.id, proposer=ANN)
    (change,) = env.changes.list_changes()
    env.changes.refuse(change.id, ANN)  # the proposer withdraws it
    assert env.store.watchlists.get_person(person.id).reference_images == 1
    assert len(files_under(tmp_path / "blobs" / "references")) == 1
    assert len(gallery_people(env)) == 1
    with env.db.session(write=False) as s:
        assert s.scalar(select(func.count(ReferenceImage.id))) == 1


def test_removing_a_person_never_waits_and_withdraws_their_changes(env: TwoPersonEnv) -> None:
    person = env.store.watchlists.enroll([ref()], watchlist_name="wanted", display_name="Ann", proposer=ANN)
    (change,) = env.changes.list_changes()
    env.store.watchlists.remove_person(person.id)
    closed = env.changes.get(change.id)
    assert closed.status is ChangeStatus.REFUSED and "removed" in closed.note
    (removal,) = env.records("person.remove")
    assert removal.params["changes_withdrawn"] == 1
    with pytest.raises(Conflict, match="already refused"):
        env.changes.approve(change.id, BOB)


# --- moving a person onto another watchlist ----------------------------------------------


def on_watchlists(env: TwoPersonEnv) -> set[tuple[int, str]]:
    """(person id, watchlist name) of everything matching runs against."""
    entries = env.store.watchlists.gallery(MODEL, utc_now(), DEFAULT_THRESHOLD, DEFAULT_MARGIN)
    return {(e.person_id, e.watchlist_name) for e in entries}


def test_a_move_to_another_watchlist_waits_for_a_second_person(env: TwoPersonEnv) -> None:
    env.store.watchlists.create_watchlist("missing", "missing")
    person = env.store.watchlists.enroll([ref()], watchlist_name="wanted", display_name="Ann")  # active
    change = env.changes.move_person(person.id, "missing", ANN)
    assert change is not None
    assert (change.kind, change.object, change.status, change.proposed_by) == (
        ChangeKind.PERSON_MOVE,
        f"person:{person.id}",
        ChangeStatus.PENDING,
        "ann",
    )
    assert change.params == {
        "person_id": person.id,
        "from": "wanted",
        "to": "missing",
        "from_id": 1,
        "to_id": 2,
    }
    assert env.store.watchlists.get_person(person.id).watchlist_name == "wanted"  # not moved until approved
    assert on_watchlists(env) == {(person.id, "wanted")}
    (proposed,) = env.records("change.propose")
    assert proposed.params == {"kind": "person.move", **change.params}

    for same in (ANN, Actor(" ANN ", "admin")):  # names compare as the two-person rule compares them
        with pytest.raises(PermissionDenied, match="was the first person and cannot also be the second"):
            env.changes.approve(change.id, same)
    with pytest.raises(PermissionDenied, match="bot acts through a service token"):
        env.changes.approve(change.id, BOT)
    assert env.store.watchlists.get_person(person.id).watchlist_name == "wanted"
    assert len(env.records("change.approve_refused")) == 3

    applied = env.changes.approve(change.id, BOB)
    assert (applied.status, applied.decided_by) == (ChangeStatus.APPLIED, "bob")
    assert env.store.watchlists.get_person(person.id).watchlist_name == "missing"
    assert on_watchlists(env) == {(person.id, "missing")}
    (moved,) = env.records("person.move")
    assert (moved.actor, moved.object, moved.params["change"]) == ("bob", f"person:{person.id}", change.id)
    assert env.records("person.update") == []  # nothing moved a person outside the rule


def test_a_refused_move_leaves_the_person_where_they_are(env: TwoPersonEnv) -> None:
    env.store.watchlists.create_watchlist("missing", "missing")
    person = env.store.watchlists.enroll([ref()], watchlist_name="wanted", display_name="Ann")
    change = env.changes.move_person(person.id, "missing", ANN)
    assert change is not None
    refused = env.changes.refuse(change.id, BOB, "stays wanted")
    assert refused.status is ChangeStatus.REFUSED
    after = env.store.watchlists.get_person(person.id)
    assert (after.watchlist_name, after.reference_images) == ("wanted", 1)  # nothing erased
    assert env.records("person.move") == []


def test_a_move_proposed_before_another_was_applied_cannot_be_approved(env: TwoPersonEnv) -> None:
    env.store.watchlists.create_watchlist("missing", "missing")
    env.store.watchlists.create_watchlist("third")
    person = env.store.watchlists.enroll([ref()], watchlist_name="wanted", display_name="Ann")
    first = env.changes.move_person(person.id, "missing", ANN)
    second = env.changes.move_person(person.id, "third", ANN)
    assert first is not None and second is not None
    env.changes.approve(first.id, BOB)
    with pytest.raises(Conflict, match="no longer on watchlist 'wanted'; refuse the change"):
        env.changes.approve(second.id, BOB)
    assert env.store.watchlists.get_person(person.id).watchlist_name == "missing"
    assert env.changes.get(second.id).status is ChangeStatus.PENDING


def test_moves_that_need_no_change(env: TwoPersonEnv) -> None:
    person = env.store.watchlists.enroll([ref()], watchlist_name="wanted", display_name="Ann")
    assert env.changes.move_person(person.id, "wanted", ANN) is None  # already there
    assert env.changes.list_changes() == []
    with pytest.raises(NotFound):
        env.changes.move_person(person.id, "no such list", ANN)
    with pytest.raises(NotFound):
        env.changes.move_person(999, "wanted", ANN)
    renamed = env.store.watchlists.update_person(
        person.id, display_name="Ann E.", notes="seen at the station"
    )
    assert (renamed.display_name, renamed.notes) == ("Ann E.", "seen at the station")  # at once
    assert env.changes.list_changes() == []


def test_removing_a_person_withdraws_their_pending_move(env: TwoPersonEnv) -> None:
    env.store.watchlists.create_watchlist("missing", "missing")
    person = env.store.watchlists.enroll([ref()], watchlist_name="wanted", display_name="Ann")
    change = env.changes.move_person(person.id, "missing", ANN)
    assert change is not None
    env.store.watchlists.remove_person(person.id)
    assert env.changes.get(change.id).status is ChangeStatus.REFUSED
    with pytest.raises(Conflict, match="already refused"):
        env.changes.approve(change.id, BOB)


def test_no_record_of_a_change_holds_biometric_data(env: TwoPersonEnv) -> None:
    person = env.store.watchlists.enroll([ref()], watchlist_name="wanted", display_name="Ann", proposer=ANN)
    (change,) = env.changes.list_changes()
    env.changes.approve(change.id, BOB)
    env.store.watchlists.remove_person(person.id)
    template = json.dumps(vector(1).tolist())[:12]
    for record in env.records():
        assert template not in json.dumps(record.params)
        assert "vector" not in record.params
    assert env.log.verify().ok
