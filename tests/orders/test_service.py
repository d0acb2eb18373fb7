"""Stay-at-home orders in the store: who can be put under one, the gallery matches a
stay-at-home person only while an order is in force, ending an order deletes their
templates with a receipt (unless another order keeps them), notes on alerts; all audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, OutOfScope
from citywatch.domain.orders import CircleArea, OrderStatus
from citywatch.domain.policy import GeoPoint, Window
from citywatch.domain.records import NewReference
from citywatch.orders.service import NewOrder, OrderService
from citywatch.runtime.build import Runtime
from citywatch.store.watchlist_tables import FaceTemplate, NonMatchRow, ReferenceImage
from tests.store.helpers import JPEG_STUB, MODEL, T0, Clock, a_match, sighting, vector

SAM = Actor("sam", "supervisor")
HOME = CircleArea(GeoPoint(51.5007, -0.1246), 150)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    clock = Clock(T0)
    runtime.__dict__["orders"] = OrderService(
        runtime.database, clock=clock, audit=runtime._audit_as, remove_blob=runtime._remove_quietly
    )
    runtime.__dict__["clock"] = clock
    yield runtime
    runtime.close()


def enrol(rt: Runtime, name: str, watchlist: str = "home", category: str = "stay_at_home") -> int:
    rt.watchlists.ensure_watchlist(watchlist, category)
    refs = [NewReference(JPEG_STUB, ".jpg", "court file", "public health order", MODEL, vector(len(name)))]
    return rt.watchlists.enroll(refs, watchlist_name=watchlist, display_name=name).id


def remember_a_dismissed_face(rt: Runtime, person: int) -> None:
    """A face dismissed as not this person (non-match memory), as `alerts dismiss --false-match` leaves."""
    with rt.database.session() as session:
        session.add(
            NonMatchRow(
                person_id=person,
                alert_id=None,
                camera_id="gate",
                model=MODEL,
                dim=4,
                vector=b"\0" * 16,
                recorded_by="oli",
                created_at=T0,
                seen_at=T0,
            )
        )


def new(person: str = "Pat", days: int = 14) -> NewOrder:
    return NewOrder(
        person, HOME, Window(T0 - timedelta(hours=1), T0 + timedelta(days=days)), "HPA 2026/7", "city health"
    )


def gallery_persons(rt: Runtime, at: object = T0) -> set[int]:
    return {e.person_id for e in rt.watchlists.gallery(MODEL, at, 0.6, 0.0)}  # type: ignore[arg-type]


def test_only_a_person_enrolled_for_stay_at_home_can_be_put_under_an_order(rt: Runtime) -> None:
    enrol(rt, "Wes", watchlist="wanted", category="wanted")
    with pytest.raises(NotFound, match="no person 'Nobody'"):
        rt.orders.create(new("Nobody"), by=SAM)
    with pytest.raises(InvalidInput, match="stay_at_home watchlist"):
        rt.orders.create(new("Wes"), by=SAM)
    enrol(rt, "Pat")
    with pytest.raises(InvalidInput, match="legal reference"):
        rt.orders.create(NewOrder("Pat", HOME, new().window, " ", "city health"), by=SAM)
    with pytest.raises(InvalidInput, match="already ended"):
        rt.orders.create(
            NewOrder("Pat", HOME, Window(T0 - timedelta(days=3), T0 - timedelta(days=1)), "r", "a"), by=SAM
        )
    assert rt.orders.orders(include_ended=True) == []


def test_the_gallery_matches_a_stay_at_home_person_only_under_an_order_in_force(rt: Runtime) -> None:
    pat = enrol(rt, "Pat")
    wes = enrol(rt, "Wes", watchlist="wanted", category="wanted")
    assert gallery_persons(rt) == {wes}
    info = rt.orders.create(new(), by=SAM)
    assert gallery_persons(rt) == {wes, pat}
    assert gallery_persons(rt, T0 + timedelta(days=15)) == {wes}, "not after the order's window"
    assert info.order.status is OrderStatus.ACTIVE
    created = rt.audit_log.entries()[-1]
    assert created.action == "order.create"
    assert created.params["area"]["kind"] == "circle" and "51.5007" not in str(created.params), (
        "the log proves which area without saying where someone lives"
    )


def test_ending_an_order_deletes_the_persons_biometric_data_with_a_receipt(rt: Runtime) -> None:
    pat = enrol(rt, "Pat")
    with rt.database.session(write=False) as session:
        (image,) = session.query(ReferenceImage).filter(ReferenceImage.person_id == pat).all()
    photo = rt.blobs.absolute(image.blob_path)
    assert photo.is_file()
    remember_a_dismissed_face(rt, pat)
    info = rt.orders.create(new(), by=SAM)
    ended, receipt = rt.orders.end(info.order.id, by=SAM)
    assert ended.order.status is OrderStatus.ENDED and ended.ended_by == "sam"
    assert receipt is not None and receipt.kind == "order"
    assert receipt.counts == {"templates": 1, "reference_images": 1, "non_matches": 1}
    assert receipt.details["order"] == info.order.id and len(receipt.details["templates_sha256"]) == 64
    assert receipt.details["reference_image_sha256s"] == [image.sha256]
    assert gallery_persons(rt) == set()
    assert not photo.exists(), "the reference image's file is unlinked after the commit"
    with rt.database.session(write=False) as s:
        for table in (FaceTemplate, ReferenceImage, NonMatchRow):
            assert s.query(table).filter(table.person_id == pat).count() == 0
    with pytest.raises(Conflict, match="already ended"):
        rt.orders.end(info.order.id, by=SAM)
    assert {"order.end", "receipt.order"} <= {e.action for e in rt.audit_log.entries()}


def test_another_order_in_force_keeps_the_templates(rt: Runtime) -> None:
    enrol(rt, "Pat")
    first = rt.orders.create(new(days=3), by=SAM)
    rt.orders.create(new(days=10), by=SAM)
    _, receipt = rt.orders.end(first.order.id, by=SAM, revoke=True)
    assert receipt is None
    assert len(gallery_persons(rt)) == 1


def test_an_order_whose_window_passed_is_ended_by_the_system(rt: Runtime) -> None:
    enrol(rt, "Pat")
    info = rt.orders.create(new(days=2), by=SAM)
    assert rt.orders.enforce() == []
    rt.__dict__["clock"].now = T0 + timedelta(days=3)
    (receipt,) = rt.orders.enforce()
    assert receipt.counts["templates"] == 1 and receipt.counts["reference_images"] == 1
    ended = rt.orders.get(info.order.id)
    assert ended.order.status is OrderStatus.ENDED and ended.ended_by == "citywatch@system"
    assert rt.orders.enforce() == []


def test_notice_and_appeal_are_recorded_on_an_alert(rt: Runtime) -> None:
    pat = enrol(rt, "Pat")
    watchlist = rt.watchlists.ensure_watchlist("home", "stay_at_home").id
    saved = rt.sightings.add_sighting(sighting(match=a_match(pat, watchlist, watchlist_name="home")))
    assert saved.alert_id is not None
    rt.orders.add_note(saved.alert_id, "notice", "letter sent 27 Nov", by=SAM)
    rt.orders.add_note(saved.alert_id, "appeal", "was at the pharmacy", by=SAM)
    assert [n.kind for n in rt.orders.notes(saved.alert_id, by=SAM)] == ["notice", "appeal"]
    gate_only = Actor("oli", "operator", cameras=frozenset({"gate-9"}))
    with pytest.raises(OutOfScope, match=f"^no alert {saved.alert_id}$"):
        rt.orders.notes(saved.alert_id, by=gate_only)
    with pytest.raises(OutOfScope, match=f"^no alert {saved.alert_id}$"):
        rt.orders.add_note(saved.alert_id, "notice", "x", by=gate_only)
    refused = [e for e in rt.audit_log.entries() if e.action == "access.refused"]
    assert [(e.actor, e.params["action"]) for e in refused] == [
        ("oli", "alert.notes"),
        ("oli", "alert.notice"),
    ]
    with pytest.raises(InvalidInput, match="one of"):
        rt.orders.add_note(saved.alert_id, "gossip", "x", by=SAM)
    with pytest.raises(InvalidInput, match="needs its text"):
        rt.orders.add_note(saved.alert_id, "notice", "  ", by=SAM)
    with pytest.raises(NotFound):
        rt.orders.add_note(999, "notice", "x", by=SAM)
    assert [e.action for e in rt.audit_log.entries()][-4:] == [
        "alert.notice",
        "alert.appeal",
        "access.refused",
        "access.refused",
    ]
