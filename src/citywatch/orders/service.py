"""Stay-at-home orders and the notes recorded on alerts (notice to the subject, appeal).

An order names one person enrolled on a `stay_at_home` watchlist (with the legal basis of
each reference image), a permitted area, a window, its legal reference and issuing
authority. Only persons under an order in force are matched for this purpose (the gallery
leaves the others out). When an order ends (its window passes, or it is ended or revoked)
the person's templates are deleted, with a receipt, unless another order in force keeps
them. Every step is audited in its own transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from citywatch.audit.hooks import ActorAuditHook
from citywatch.audit.receipts import ReceiptInfo, write_receipt
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import SYSTEM, Action, Actor, AuditEvent
from citywatch.domain.clock import Clock
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, OutOfScope, PermissionDenied
from citywatch.domain.orders import Area, Order, OrderStatus, area_from_json, area_json
from citywatch.domain.policy import Window
from citywatch.store.db import Database
from citywatch.store.sighting_tables import ALERT_NOTE_KINDS, Alert, AlertNoteRow
from citywatch.store.watchlist_tables import (
    ORDER_CATEGORY,
    FaceTemplate,
    NonMatchRow,
    OrderRow,
    Person,
    ReferenceImage,
    Watchlist,
)


@dataclass(frozen=True, slots=True)
class NewOrder:
    person: str
    """The person's display name."""
    area: Area
    window: Window
    legal_reference: str
    issuing_authority: str


@dataclass(frozen=True, slots=True)
class OrderInfo:
    order: Order
    created_by: str
    created_at: datetime
    ended_by: str | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlertNote:
    id: int
    alert_id: int
    kind: str
    text: str
    recorded_by: str
    at: datetime


class OrderService:
    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        audit: ActorAuditHook,
        remove_blob: Callable[[str], object],
    ) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._remove_blob = remove_blob
        """Unlinks a reference image's file, after the commit that deleted its row."""

    def create(self, new: NewOrder, *, by: Actor) -> OrderInfo:
        reference, authority = new.legal_reference.strip(), new.issuing_authority.strip()
        if not reference or not authority:
            raise InvalidInput("an order needs its legal reference and the issuing authority")
        start, end = new.window.start, new.window.end
        if start is None or end is None or end <= start:
            raise InvalidInput("an order needs a start and an end after it (--from, --until)")
        now = self._clock()
        if end <= now:
            raise InvalidInput("the order's window has already ended")
        with self._db.session() as session:
            person = _person(session, new.person)
            row = OrderRow(
                person_id=person.id,
                person_name=person.display_name,
                legal_reference=reference,
                issuing_authority=authority,
                area=json.dumps(area_json(new.area)),
                starts_at=start,
                ends_at=end,
                status=OrderStatus.ACTIVE.value,
                created_by=by.name,
                created_at=now,
            )
            session.add(row)
            session.flush()
            info = _info(row)
            self._audit(session, by, _event(Action.ORDER_CREATE, info))
            return info

    def end(self, order_id: int, *, by: Actor, revoke: bool = False) -> tuple[OrderInfo, ReceiptInfo | None]:
        """End (or revoke) an order now; the person's biometric data goes (receipt) unless
        another order in force keeps it."""
        now = self._clock()
        with self._db.session() as session:
            row = _require(session, order_id)
            if row.status != OrderStatus.ACTIVE.value:
                raise Conflict(f"order {order_id} is already {row.status}")
            row.status = (OrderStatus.REVOKED if revoke else OrderStatus.ENDED).value
            row.ended_by, row.ended_at = by.name, now
            info = _info(row)
            self._audit(session, by, _event(Action.ORDER_REVOKE if revoke else Action.ORDER_END, info))
            receipt, files = self._forget_person(session, row, now)
        self._unlink(files)
        return info, receipt

    def enforce(self) -> list[ReceiptInfo]:
        """End, as the system, every order whose window has passed (with its receipts)."""
        now = self._clock()
        due = (OrderRow.status == OrderStatus.ACTIVE.value) & (OrderRow.ends_at <= now)
        with self._db.session(write=False) as session:  # most calls find nothing: no write lock
            if session.scalar(select(OrderRow.id).where(due).limit(1)) is None:
                return []
        receipts, files = [], []
        with self._db.session() as session:
            for row in session.scalars(select(OrderRow).where(due)).all():
                row.status = OrderStatus.ENDED.value
                row.ended_by, row.ended_at = SYSTEM.name, now
                self._audit(
                    session, SYSTEM, _event(Action.ORDER_END, _info(row), extra={"reason": "window ended"})
                )
                receipt, gone = self._forget_person(session, row, now)
                files += gone
                if receipt is not None:
                    receipts.append(receipt)
        self._unlink(files)
        return receipts

    def orders(self, *, include_ended: bool = False) -> list[OrderInfo]:
        with self._db.session(write=False) as session:
            query = select(OrderRow).order_by(OrderRow.id)
            if not include_ended:
                query = query.where(OrderRow.status == OrderStatus.ACTIVE.value)
            return [_info(r) for r in session.scalars(query)]

    def get(self, order_id: int) -> OrderInfo:
        with self._db.session(write=False) as session:
            return _info(_require(session, order_id))

    def add_note(self, alert_id: int, kind: str, text: str, *, by: Actor) -> AlertNote:
        """Record what the subject was told (notice), their appeal, or its outcome."""
        if kind not in ALERT_NOTE_KINDS:
            raise InvalidInput(f"a note is one of {', '.join(ALERT_NOTE_KINDS)}, not {kind!r}")
        if not text.strip():
            raise InvalidInput("a note needs its text")
        self._refuse_outside_scope(alert_id, by, Permission.ALERTS_ACT, _NOTE_ACTION[kind])
        with self._db.session() as session:
            _alert_in_scope(session, alert_id, by, Permission.ALERTS_ACT)
            row = AlertNoteRow(
                alert_id=alert_id, kind=kind, text=text.strip(), recorded_by=by.name, at=self._clock()
            )
            session.add(row)
            session.flush()
            self._audit(
                session, by, AuditEvent(_NOTE_ACTION[kind], f"alert:{alert_id}", params={"note": row.id})
            )
            return _note(row)

    def notes(self, alert_id: int, *, by: Actor) -> list[AlertNote]:
        self._refuse_outside_scope(alert_id, by, Permission.ALERTS_READ, Action.ALERT_NOTES)
        with self._db.session(write=False) as session:
            _alert_in_scope(session, alert_id, by, Permission.ALERTS_READ)
            rows = session.scalars(
                select(AlertNoteRow).where(AlertNoteRow.alert_id == alert_id).order_by(AlertNoteRow.id)
            )
            return [_note(r) for r in rows]

    def _refuse_outside_scope(self, alert_id: int, by: Actor, permission: Permission, action: Action) -> None:
        """An alert outside `by`'s camera scope: the refusal audited (`access.refused`, naming
        the camera), then answered as an alert that does not exist (OutOfScope)."""
        with self._db.session() as session:
            alert = session.get(Alert, alert_id)
            if alert is None or can(by, permission, alert.camera_id) or not can(by, permission):
                return  # absent, within scope, or a role without the permission: checked below
            params = {"permission": str(permission), "cameras": [alert.camera_id], "action": action}
            self._audit(session, by, AuditEvent(Action.ACCESS_REFUSED, f"alert:{alert_id}", params=params))
        raise OutOfScope(f"no alert {alert_id}")

    def _forget_person(
        self, session: Session, row: OrderRow, now: datetime
    ) -> tuple[ReceiptInfo | None, list[str]]:
        """Delete the person's templates, reference images and remembered non-matches (the
        order was the only reason to hold them) unless another order in force keeps them;
        the receipt proves what went. Returns it and the image files to unlink after commit."""
        if row.person_id is None:
            return None, []
        others = session.scalar(
            select(OrderRow.id)
            .where(
                OrderRow.person_id == row.person_id,
                OrderRow.id != row.id,
                OrderRow.status == OrderStatus.ACTIVE.value,
                OrderRow.ends_at > now,
            )
            .limit(1)
        )
        if others is not None:
            return None, []  # another order in force keeps them
        person = row.person_id
        templates = session.scalars(
            select(FaceTemplate).where(FaceTemplate.person_id == person).order_by(FaceTemplate.id)
        ).all()
        images = session.scalars(
            select(ReferenceImage).where(ReferenceImage.person_id == person).order_by(ReferenceImage.id)
        ).all()
        remembered = session.scalars(select(NonMatchRow.id).where(NonMatchRow.person_id == person)).all()
        digest = hashlib.sha256()
        for t in templates:
            digest.update(t.vector)
        template_ids = [t.id for t in templates]
        session.execute(delete(FaceTemplate).where(FaceTemplate.person_id == person))
        session.execute(delete(ReferenceImage).where(ReferenceImage.person_id == person))
        session.execute(delete(NonMatchRow).where(NonMatchRow.person_id == person))
        receipt = write_receipt(
            session,
            self._audit,
            "order",
            now,
            policy_version=f"order:{row.id}",
            counts={
                "templates": len(templates),
                "reference_images": len(images),
                "non_matches": len(remembered),
            },
            details={
                "order": row.id,
                "reason": f"order {row.status}",
                "template_ids": [template_ids[0], template_ids[-1]] if template_ids else None,
                "templates_sha256": digest.hexdigest(),
                "reference_image_sha256s": [i.sha256 for i in images],
            },
            by=SYSTEM,
            legal_basis=row.legal_reference,
        )
        return receipt, [i.blob_path for i in images]

    def _unlink(self, files: list[str]) -> None:
        # After the commit: a crash before this leaves orphans that `recover` removes.
        for path in files:
            self._remove_blob(path)


def _person(session: Session, name: str) -> Person:
    rows = session.execute(
        select(Person, Watchlist)
        .join(Watchlist, Person.watchlist_id == Watchlist.id)
        .where(Person.display_name == name)
    ).all()
    if not rows:
        raise NotFound(f"no person {name!r}: enrol them on a {ORDER_CATEGORY} watchlist first")
    if len(rows) > 1:
        raise Conflict(f"several persons are called {name!r}; rename one first")
    person, watchlist = rows[0]
    if watchlist.category != ORDER_CATEGORY:
        raise InvalidInput(
            f"{name} is on watchlist {watchlist.name} ({watchlist.category}); a stay-at-home order needs "
            f"the person enrolled on a {ORDER_CATEGORY} watchlist"
        )
    if person.status != "active":
        raise Conflict(f"{name}'s enrolment is still {person.status} (two-person rule)")
    if session.scalar(select(FaceTemplate.id).where(FaceTemplate.person_id == person.id).limit(1)) is None:
        raise Conflict(f"{name} has no template to match: enrol a reference image with its legal basis first")
    return person


def _alert_in_scope(session: Session, alert_id: int, by: Actor, permission: Permission) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if not can(by, permission, alert.camera_id):
        raise PermissionDenied(f"{by.name} may not see or note alerts of camera {alert.camera_id}")
    return alert


def _area_digest(order: Order) -> dict[str, object]:
    area = area_json(order.area)
    digest = hashlib.sha256(json.dumps(area, sort_keys=True).encode()).hexdigest()
    kind = "circle" if "center" in area else "polygon"
    return {"kind": kind, "radius_m": area.get("radius_m"), "sha256": digest}


def _require(session: Session, order_id: int) -> OrderRow:
    row = session.get(OrderRow, order_id)
    if row is None:
        raise NotFound(f"no order {order_id}")
    return row


def _info(row: OrderRow) -> OrderInfo:
    return OrderInfo(
        order=Order(
            id=row.id,
            person_id=row.person_id,
            person_name=row.person_name,
            area=area_from_json(json.loads(row.area)),
            window=Window(row.starts_at, row.ends_at),
            status=OrderStatus(row.status),
            legal_reference=row.legal_reference,
            issuing_authority=row.issuing_authority,
        ),
        created_by=row.created_by,
        created_at=row.created_at,
        ended_by=row.ended_by,
        ended_at=row.ended_at,
    )


def _note(row: AlertNoteRow) -> AlertNote:
    return AlertNote(row.id, row.alert_id, row.kind, row.text, row.recorded_by, row.at)


_NOTE_ACTION = {
    "notice": Action.ALERT_NOTICE,
    "appeal": Action.ALERT_APPEAL,
    "appeal_outcome": Action.ALERT_APPEAL_OUTCOME,
}
"""The action recording each kind of alert note (ALERT_NOTE_KINDS)."""


def _event(action: Action, info: OrderInfo, *, extra: dict[str, object] | None = None) -> AuditEvent:
    order = info.order
    return AuditEvent(
        action,
        f"order:{order.id}",
        legal_basis=order.legal_reference,
        params={
            "person": order.person_id,
            "authority": order.issuing_authority,
            # where someone lives is the order's business, not the log's: what kind of area,
            # and a digest that proves which one without saying where
            "area": _area_digest(order),
            "from": None if order.window.start is None else order.window.start.isoformat(),
            "until": None if order.window.end is None else order.window.end.isoformat(),
            "status": order.status.value,
            **(extra or {}),
        },
    )
