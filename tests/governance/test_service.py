"""Zones, events, rules and authorisations on record: validation, audit, and what an
authorisation's end deletes (with its receipt)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from citywatch.domain.policy import AuthorisationStatus, GeoPoint, ProcessingMode, Window
from citywatch.domain.records import NewReference
from citywatch.governance.records import NewAuthorisation
from citywatch.governance.service import GovernanceService
from citywatch.runtime.build import Runtime
from tests.store.helpers import JPEG_STUB, MODEL, T0, Clock, a_match, files_under, sighting, vector

DEADLINE = timedelta(hours=24)
ANN = Actor("ann", "admin")
SAM = Actor("sam", "supervisor")
SQUARE = [GeoPoint(51.49, -0.11), GeoPoint(51.51, -0.11), GeoPoint(51.51, -0.09)]


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    runtime.actor = ANN
    yield runtime
    runtime.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def gov(rt: Runtime, clock: Clock) -> GovernanceService:
    return GovernanceService(rt.database, rt.blobs, clock=clock, audit=rt._audit_as)


def actions(rt: Runtime) -> list[str]:
    return [e.action for e in rt.audit_log.entries()]


def new_auth(ref: str = "W-1", **kw: object) -> NewAuthorisation:
    base = NewAuthorisation(
        reference=ref,
        issuer="Crown Court",
        legal_basis="warrant 2026/114",
        objective="find a missing person",
        cameras=["cam-1"],
        starts_at=T0 - timedelta(hours=1),
        ends_at=T0 + timedelta(days=2),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_zones_events_and_rules_are_recorded_and_audited(rt: Runtime, gov: GovernanceService) -> None:
    gov.add_zone("square", polygon=SQUARE, cameras=[], protected=True, by=ANN)
    gov.add_event("assembly", zone="square", starts_at=T0, ends_at=T0 + timedelta(hours=2), by=ANN)
    rule = gov.add_rule(ProcessingMode.DETECT, camera="cam-1", by=ANN)
    snap = gov.snapshot()
    assert [z.name for z in snap.zones] == ["square"] and snap.zones[0].protected
    assert [(e.name, e.zone) for e in snap.events] == [("assembly", "square")]
    assert [(r.id, r.mode, r.camera) for r in snap.rules] == [(rule.id, ProcessingMode.DETECT, "cam-1")]
    with pytest.raises(Conflict, match="has events"):
        gov.remove_zone("square", by=ANN)
    gov.remove_event("assembly", by=ANN)
    gov.remove_rule(rule.id, by=ANN)
    gov.remove_zone("square", by=ANN)
    assert actions(rt) == [
        "zone.add",
        "event.add",
        "policy.rule_add",
        "event.remove",
        "policy.rule_remove",
        "zone.remove",
    ]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda g: g.add_zone("z", polygon=SQUARE[:2], cameras=[], protected=True, by=ANN),
            InvalidInput,
            "3 points",
        ),
        (
            lambda g: g.add_zone("z", polygon=[], cameras=[], protected=True, by=ANN),
            InvalidInput,
            "needs a polygon",
        ),
        (
            lambda g: g.add_zone("", polygon=SQUARE, cameras=[], protected=True, by=ANN),
            InvalidInput,
            "zone name",
        ),
        (
            lambda g: g.add_zone(
                "z", polygon=[GeoPoint(91, 0), *SQUARE[1:]], cameras=[], protected=True, by=ANN
            ),
            InvalidInput,
            "latitude",
        ),
        (
            lambda g: g.add_event("e", zone="nowhere", starts_at=T0, ends_at=T0 + DEADLINE, by=ANN),
            NotFound,
            "zone",
        ),
        (lambda g: g.add_event("e", zone="x", starts_at=T0, ends_at=T0, by=ANN), InvalidInput, "ends"),
        (lambda g: g.add_rule(ProcessingMode.OFF, by=ANN), InvalidInput, "exactly one"),
        (
            lambda g: g.request(new_auth(cameras=[]), by=ANN, urgent_deadline=DEADLINE),
            InvalidInput,
            "cameras",
        ),
        (
            lambda g: g.request(new_auth(objective=" "), by=ANN, urgent_deadline=DEADLINE),
            InvalidInput,
            "objective",
        ),
        (
            lambda g: g.request(new_auth(zones=["nowhere"]), by=ANN, urgent_deadline=DEADLINE),
            NotFound,
            "zone",
        ),
        (
            lambda g: g.request(new_auth(ends_at=T0 - timedelta(days=1)), by=ANN, urgent_deadline=DEADLINE),
            InvalidInput,
            "ends before",
        ),
        (lambda g: g.decide("W-404", AuthorisationStatus.APPROVED, by=SAM), NotFound, "W-404"),
    ],
)
def test_bad_records_are_refused_clearly(
    gov: GovernanceService, call: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        call(gov)  # type: ignore[operator]


def test_an_authorisation_is_decided_by_someone_other_than_who_recorded_it(
    rt: Runtime, gov: GovernanceService
) -> None:
    info = gov.request(new_auth(), by=ANN, urgent_deadline=DEADLINE)
    assert info.authorisation.status is AuthorisationStatus.PENDING
    assert not info.authorisation.in_force(T0)
    with pytest.raises(PermissionDenied, match="different supervisor"):
        gov.decide("W-1", AuthorisationStatus.APPROVED, by=ANN)
    approved = gov.decide("W-1", AuthorisationStatus.APPROVED, by=SAM, note="checked the warrant")
    assert approved.authorisation.in_force(T0) and approved.decided_by == "sam"
    with pytest.raises(Conflict, match="not pending"):
        gov.decide("W-1", AuthorisationStatus.REFUSED, by=SAM)
    records = {e.action: e for e in rt.audit_log.entries()}
    assert records["authorisation.approve"].authorisation == "W-1"
    assert records["authorisation.approve"].legal_basis == "warrant 2026/114"
    assert records["authorisation.request"].params["cameras"] == ["cam-1"]


def _enrol_and_sight(rt: Runtime, gov: GovernanceService, ref: str) -> tuple[int, int]:
    rt.watchlists.create_watchlist("missing")
    gov.bind_watchlist("missing", ref, by=ANN)
    person = rt.watchlists.enroll(
        [NewReference(JPEG_STUB, ".jpg", "family photo", "warrant", MODEL, vector(1))],
        watchlist_name="missing",
        display_name="Ann",
    )
    auth_id = gov.authorisation(ref).authorisation.id
    saved = rt.sightings.add_sighting(
        replace(
            sighting(
                match=a_match(person.id, person.watchlist_id, watchlist_name="missing"), template=vector(5)
            ),
            authorisation_id=auth_id,
        )
    )
    rt.sightings.add_sighting(sighting(template=vector(9), track_id=2))  # derived under nothing: stays
    return person.id, saved.sighting_id


def test_an_urgent_authorisation_not_approved_in_time_takes_its_artefacts_with_it(
    rt: Runtime, gov: GovernanceService, clock: Clock, tmp_path: Path
) -> None:
    gov.request(new_auth("U-1", urgent=True), by=ANN, urgent_deadline=DEADLINE)
    assert gov.authorisation("U-1").authorisation.in_force(T0)  # urgent: at once
    person_id, sighting_id = _enrol_and_sight(rt, gov, "U-1")
    crops_before = files_under(tmp_path / "data" / "blobs" / "crops")
    assert len(crops_before) == 2
    assert gov.enforce() == []  # still within the deadline

    clock.now = T0 + DEADLINE
    with pytest.raises(Conflict, match="not approved before its deadline"):
        gov.decide("U-1", AuthorisationStatus.APPROVED, by=SAM)
    (receipt,) = gov.enforce()
    assert (receipt.reason, receipt.sightings, receipt.sighting_ids) == (
        "not approved before its deadline",
        1,
        (sighting_id, sighting_id),
    )
    assert receipt.templates == 1 and receipt.files_unlinked == 1
    assert [s.id for s in rt.sightings.list_sightings()] != [sighting_id]
    assert len(rt.sightings.list_sightings()) == 1
    assert rt.alerts.list_alerts() == []  # the alert went with its sighting
    assert rt.watchlists.get_person(person_id).templates == 0
    assert len(files_under(tmp_path / "data" / "blobs" / "crops")) == 1
    assert gov.enforce() == []  # closed once
    last = rt.audit_log.entries()[-1]
    assert last.action == "receipt.authorisation" and last.result_count == 2
    assert last.params["crop_sha256s"] and rt.audit_log.verify().ok


def test_refusing_an_urgent_authorisation_deletes_at_once(rt: Runtime, gov: GovernanceService) -> None:
    gov.request(new_auth("U-2", urgent=True), by=ANN, urgent_deadline=DEADLINE)
    _, sighting_id = _enrol_and_sight(rt, gov, "U-2")
    (alert,) = [a for a in rt.alerts.list_alerts() if a.sighting_id == sighting_id]
    rt.alert_reviews.dismiss(alert.id, ANN, false_match=True)  # its face remembered as a non-match
    assert len(rt.watchlists.non_matches(MODEL)) == 1
    gov.decide("U-2", AuthorisationStatus.REFUSED, by=SAM, note="no grounds")
    (receipt,) = gov.enforce()
    assert (receipt.reason, receipt.sightings, receipt.templates) == ("refused", 1, 1)
    assert rt.watchlists.non_matches(MODEL) == []  # derived under the refused authorisation: gone too
    last = rt.audit_log.entries()[-1]
    assert last.action == "receipt.authorisation" and last.params["counts"]["non_matches"] == 1


def test_an_authorisations_receipt_is_shown_only_within_the_cameras_it_named(
    rt: Runtime, gov: GovernanceService
) -> None:
    gov.request(new_auth("U-3", urgent=True), by=ANN, urgent_deadline=DEADLINE)
    _enrol_and_sight(rt, gov, "U-3")
    gov.decide("U-3", AuthorisationStatus.REFUSED, by=SAM, note="no grounds")
    assert len(gov.enforce()) == 1
    mine = [r for r in rt.purger.receipts() if r.kind == "authorisation"]
    assert len(mine) == 1
    on_cam_1 = Actor("ivy", "investigator", cameras=frozenset({"cam-1"}))
    elsewhere = Actor("ida", "investigator", cameras=frozenset({"cam-2"}))
    assert [r.id for r in rt.purger.receipts(visible_to=on_cam_1)] == [mine[0].id]
    assert [r for r in rt.purger.receipts(visible_to=elsewhere) if r.kind == "authorisation"] == []
    assert [r.id for r in rt.purger.receipts(visible_to=SAM)] == [r.id for r in rt.purger.receipts()]


def test_an_ended_authorisation_deletes_its_watchlists_templates_but_not_lawful_sightings(
    rt: Runtime, gov: GovernanceService, clock: Clock
) -> None:
    gov.request(new_auth("W-2", ends_at=T0 + timedelta(hours=3)), by=ANN, urgent_deadline=DEADLINE)
    gov.decide("W-2", AuthorisationStatus.APPROVED, by=SAM)
    person_id, _ = _enrol_and_sight(rt, gov, "W-2")
    clock.now = T0 + timedelta(hours=3)
    (receipt,) = gov.enforce()
    assert (receipt.reason, receipt.sightings, receipt.templates) == ("ended", 0, 1)
    assert rt.watchlists.get_person(person_id).templates == 0
    assert len(rt.sightings.list_sightings()) == 2  # kept within retention (issue 5)
    with pytest.raises(Conflict, match="has ended"):
        gov.bind_watchlist("missing", "W-2", by=ANN)


def test_a_snapshot_holds_only_open_authorisations(gov: GovernanceService, clock: Clock) -> None:
    gov.request(new_auth("W-3", ends_at=T0 + timedelta(hours=1)), by=ANN, urgent_deadline=DEADLINE)
    gov.request(new_auth("W-4"), by=ANN, urgent_deadline=DEADLINE)
    clock.now = T0 + timedelta(hours=2)
    gov.enforce()
    assert [a.reference for a in gov.snapshot().authorisations] == ["W-4"]
    assert gov.authorisation("W-3").closed_at == clock.now


def test_window_of_a_rule_is_kept(gov: GovernanceService) -> None:
    rule = gov.add_rule(ProcessingMode.OFF, camera="cam-1", window=Window(T0, T0 + DEADLINE), by=ANN)
    assert gov.rules() == [rule]


@pytest.mark.parametrize(
    ("decider", "message"),
    [
        (ANN, "a different supervisor must decide"),
        (Actor("bot", "supervisor", service=True), "service token"),
        (Actor("ola", "operator"), "may not decide"),
        (Actor("ivy", "investigator"), "may not decide"),
    ],
)
def test_who_may_not_decide_an_authorisation(
    rt: Runtime, gov: GovernanceService, decider: Actor, message: str
) -> None:
    gov.request(new_auth(), by=ANN, urgent_deadline=DEADLINE)
    with pytest.raises(PermissionDenied, match=message):
        gov.decide("W-1", AuthorisationStatus.APPROVED, by=decider)
    assert gov.authorisation("W-1").authorisation.status is AuthorisationStatus.PENDING
    assert actions(rt) == ["authorisation.request", "authorisation.decide_refused"]
    refused = rt.audit_log.entries()[-1]
    assert (refused.actor, refused.authorisation) == (decider.name, "W-1")


def test_audit_records_name_who_acted(rt: Runtime, gov: GovernanceService, clock: Clock) -> None:
    gov.request(new_auth(ends_at=T0 + timedelta(hours=1)), by=ANN, urgent_deadline=DEADLINE)
    gov.decide("W-1", AuthorisationStatus.APPROVED, by=SAM)
    clock.now = T0 + timedelta(hours=2)
    gov.enforce()
    assert [(e.action, e.actor, e.role) for e in rt.audit_log.entries()] == [
        ("authorisation.request", "ann", "admin"),
        ("authorisation.approve", "sam", "supervisor"),
        ("receipt.authorisation", "citywatch@system", "system"),
    ]


def test_an_unapproved_authorisation_cannot_take_over_a_bound_watchlist(
    rt: Runtime, gov: GovernanceService
) -> None:
    rt.watchlists.create_watchlist("missing")
    gov.request(new_auth("W-1", watchlists=["missing"]), by=ANN, urgent_deadline=DEADLINE)
    gov.decide("W-1", AuthorisationStatus.APPROVED, by=SAM)
    gov.request(new_auth("U-1", urgent=True), by=ANN, urgent_deadline=DEADLINE)
    with pytest.raises(Conflict, match="bound to authorisation W-1, still open"):
        gov.bind_watchlist("missing", "U-1", by=ANN)
    with pytest.raises(Conflict, match="bound to authorisation W-1"):
        gov.request(new_auth("U-2", urgent=True, watchlists=["missing"]), by=ANN, urgent_deadline=DEADLINE)
    with pytest.raises(NotFound):
        gov.authorisation("U-2")  # the request and its binding are one transaction
    gov.request(new_auth("W-2"), by=ANN, urgent_deadline=DEADLINE)
    gov.decide("W-2", AuthorisationStatus.APPROVED, by=SAM)
    gov.bind_watchlist("missing", "W-2", by=ANN)  # approved: it may
    assert gov.authorisation("W-2").authorisation.watchlists == {"missing"}
    assert gov.authorisation("W-1").authorisation.watchlists == frozenset()


def test_withdrawing_an_urgent_authorisation_before_approval_deletes_what_it_derived(
    rt: Runtime, gov: GovernanceService
) -> None:
    gov.request(new_auth("U-3", urgent=True), by=ANN, urgent_deadline=DEADLINE)
    _enrol_and_sight(rt, gov, "U-3")
    gov.decide("U-3", AuthorisationStatus.REVOKED, by=ANN)  # its own requester withdraws it
    (receipt,) = gov.enforce()
    assert (receipt.reason, receipt.sightings) == ("refused", 1)


def test_an_urgent_authorisation_whose_window_ends_unapproved_lapses(
    rt: Runtime, gov: GovernanceService, clock: Clock
) -> None:
    gov.request(
        new_auth("U-4", urgent=True, ends_at=T0 + timedelta(hours=2)), by=ANN, urgent_deadline=DEADLINE
    )
    _enrol_and_sight(rt, gov, "U-4")
    clock.now = T0 + timedelta(hours=3)  # window over, deadline not yet
    (receipt,) = gov.enforce()
    assert receipt.sightings == 1


def test_no_sighting_is_stored_under_a_closed_authorisation(rt: Runtime, gov: GovernanceService) -> None:
    gov.request(new_auth("U-5", urgent=True), by=ANN, urgent_deadline=DEADLINE)
    gov.decide("U-5", AuthorisationStatus.REFUSED, by=SAM)
    gov.enforce()
    auth_id = gov.authorisation("U-5").authorisation.id
    with pytest.raises(PermissionDenied, match="U-5 has ended"):
        rt.sightings.add_sighting(replace(sighting(template=vector(3)), authorisation_id=auth_id))
    assert rt.sightings.list_sightings() == []
    assert rt.sightings.clean_orphan_crops(older_than_s=0) == 0  # its crop file went with it


def test_templates_enrolled_after_the_close_are_swept_with_a_receipt(
    rt: Runtime, gov: GovernanceService, clock: Clock
) -> None:
    gov.request(new_auth("W-5", ends_at=T0 + timedelta(hours=1)), by=ANN, urgent_deadline=DEADLINE)
    gov.decide("W-5", AuthorisationStatus.APPROVED, by=SAM)
    person_id, _ = _enrol_and_sight(rt, gov, "W-5")
    clock.now = T0 + timedelta(hours=2)
    assert [r.templates for r in gov.enforce()] == [1]
    rt.watchlists.enroll(
        [NewReference(JPEG_STUB, ".jpg", "another photo", "warrant", MODEL, vector(2))], person_id=person_id
    )
    (receipt,) = gov.enforce()
    assert (receipt.reason, receipt.templates, receipt.sightings) == ("templates added after it closed", 1, 0)
    assert rt.watchlists.get_person(person_id).templates == 0
    assert gov.enforce() == []
    assert gov.authorisation("W-5").closed_at == T0 + timedelta(hours=2)  # closed once, kept
