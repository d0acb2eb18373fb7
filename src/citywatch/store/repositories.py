"""Queries and inserts on one Session. Nothing here commits: the caller's `db.session()` does."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from citywatch.domain.errors import NotFound
from citywatch.domain.records import ChangeInfo, ChangeKind, ChangeStatus
from citywatch.store.tables import (
    ORDER_CATEGORY,
    Alert,
    AlertConfirmationRow,
    ChangeRow,
    FaceTemplate,
    OrderRow,
    Person,
    ReferenceImage,
    RequestRow,
    Sighting,
    Watchlist,
)

# --- watchlists ---------------------------------------------------------------------------


def watchlist_by_name(session: Session, name: str) -> Watchlist | None:
    return session.scalars(select(Watchlist).where(Watchlist.name == name)).one_or_none()


def require_watchlist(session: Session, name: str) -> Watchlist:
    """The watchlist `name`, or NotFound naming it."""
    row = watchlist_by_name(session, name.strip())
    if row is None:
        raise NotFound(f"no watchlist named {name!r}")
    return row


def all_watchlists(session: Session) -> Sequence[Watchlist]:
    return session.scalars(select(Watchlist).order_by(Watchlist.name)).all()


def insert_watchlist(
    session: Session,
    *,
    name: str,
    category: str,
    threshold: float | None,
    margin: float | None,
    expires_at: datetime | None,
    now: datetime,
) -> Watchlist:
    row = Watchlist(
        name=name,
        category=category,
        threshold=threshold,
        margin=margin,
        active=True,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


# --- persons ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonRow:
    person: Person
    watchlist: Watchlist
    reference_images: int
    templates: int


def _persons_query() -> Select[Person, Watchlist, int, int]:
    references = (
        select(func.count(ReferenceImage.id))
        .where(ReferenceImage.person_id == Person.id)
        .correlate(Person)
        .scalar_subquery()
    )
    templates = (
        select(func.count(FaceTemplate.id))
        .where(FaceTemplate.person_id == Person.id)
        .correlate(Person)
        .scalar_subquery()
    )
    return (
        select(Person, Watchlist, references, templates)
        .join(Watchlist, Person.watchlist_id == Watchlist.id)
        .order_by(Person.id)
    )


def persons(
    session: Session,
    *,
    person_id: int | None = None,
    watchlist_id: int | None = None,
    name_contains: str | None = None,
) -> list[PersonRow]:
    query = _persons_query()
    if person_id is not None:
        query = query.where(Person.id == person_id)
    if watchlist_id is not None:
        query = query.where(Person.watchlist_id == watchlist_id)
    if name_contains is not None:
        query = query.where(func.lower(Person.display_name).contains(name_contains.lower(), autoescape=True))
    return [PersonRow(p, w, refs, tmpls) for p, w, refs, tmpls in session.execute(query)]


def person_by_id(session: Session, person_id: int) -> Person | None:
    return session.get(Person, person_id)


def insert_person(
    session: Session,
    *,
    watchlist_id: int,
    display_name: str,
    notes: str,
    now: datetime,
    status: str = "active",
    proposed_by: str = "",
) -> Person:
    row = Person(
        watchlist_id=watchlist_id,
        display_name=display_name,
        notes=notes,
        created_at=now,
        updated_at=now,
        status=status,
        proposed_by=proposed_by,
    )
    session.add(row)
    session.flush()
    return row


def references_of(session: Session, person_id: int) -> Sequence[ReferenceImage]:
    return session.scalars(
        select(ReferenceImage).where(ReferenceImage.person_id == person_id).order_by(ReferenceImage.id)
    ).all()


def count_templates_of(session: Session, person_id: int) -> int:
    return session.scalar(select(func.count(FaceTemplate.id)).where(FaceTemplate.person_id == person_id)) or 0


def delete_person(session: Session, person: Person) -> None:
    """Delete the person; the database cascades to reference images and templates."""
    session.delete(person)
    session.flush()


# --- references and templates -------------------------------------------------------------


def insert_reference(
    session: Session,
    *,
    person_id: int,
    blob_path: str,
    sha256: str,
    source: str,
    legal_basis: str,
    now: datetime,
) -> ReferenceImage:
    row = ReferenceImage(
        person_id=person_id,
        blob_path=blob_path,
        sha256=sha256,
        source=source,
        legal_basis=legal_basis,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def insert_template(
    session: Session,
    *,
    person_id: int,
    reference_image_id: int,
    model: str,
    vector: bytes,
    dim: int,
    now: datetime,
) -> FaceTemplate:
    row = FaceTemplate(
        person_id=person_id,
        reference_image_id=reference_image_id,
        model=model,
        dim=dim,
        vector=vector,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def template_dims(session: Session, model: str) -> set[int]:
    return set(session.scalars(select(FaceTemplate.dim).where(FaceTemplate.model == model).distinct()))


def gallery_rows(
    session: Session, *, model: str, now: datetime
) -> list[tuple[FaceTemplate, Person, Watchlist]]:
    """Templates matched against: approved (active) persons on active, unexpired watchlists,
    without the reference images still waiting for a second person; on a stay-at-home
    watchlist, only persons under an order in force."""
    held_back = pending_reference_ids(session)
    query = (
        select(FaceTemplate, Person, Watchlist)
        .join(Person, FaceTemplate.person_id == Person.id)
        .join(Watchlist, Person.watchlist_id == Watchlist.id)
        .where(
            FaceTemplate.model == model,
            Person.status == "active",
            Watchlist.active.is_(True),
            or_(Watchlist.expires_at.is_(None), Watchlist.expires_at > now),
            # a stay-at-home watchlist is matched only for persons under an order in force
            or_(
                Watchlist.category != ORDER_CATEGORY,
                Person.id.in_(
                    select(OrderRow.person_id).where(
                        OrderRow.status == "active", OrderRow.starts_at <= now, OrderRow.ends_at > now
                    )
                ),
            ),
        )
        .order_by(FaceTemplate.id)
    )
    return [
        (template, person, watchlist)
        for template, person, watchlist in session.execute(query)
        if template.reference_image_id not in held_back
    ]


def all_reference_paths(session: Session) -> set[str]:
    return set(session.scalars(select(ReferenceImage.blob_path)))


def all_request_photo_paths(session: Session) -> set[str]:
    """The requester photos open subject-access requests still keep."""
    return {p for p in session.scalars(select(RequestRow.photo_path)) if p}


# --- sightings and alerts -----------------------------------------------------------------


def insert_sighting(session: Session, row: Sighting) -> Sighting:
    session.add(row)
    session.flush()
    return row


def insert_alert(session: Session, row: Alert) -> Alert:
    session.add(row)
    session.flush()
    return row


def search_rows(
    session: Session,
    *,
    model: str,
    camera_ids: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> Sequence[Sighting]:
    """Sightings with a template of `model` whose time span overlaps [since, until]."""
    query = select(Sighting).where(Sighting.model == model, Sighting.template.is_not(None))
    if camera_ids is not None:
        query = query.where(Sighting.camera_id.in_(list(camera_ids)))
    if since is not None:
        query = query.where(Sighting.ended_at >= since)
    if until is not None:
        query = query.where(Sighting.started_at <= until)
    return session.scalars(query.order_by(Sighting.started_at, Sighting.id)).all()


def sightings_in(
    session: Session, *, camera_ids: Sequence[str], since: datetime, until: datetime
) -> Sequence[Sighting]:
    """Every sighting of `camera_ids` overlapping [since, until], oldest first (exports)."""
    query = select(Sighting).where(
        Sighting.camera_id.in_(list(camera_ids)), Sighting.ended_at >= since, Sighting.started_at <= until
    )
    return session.scalars(query.order_by(Sighting.started_at, Sighting.id)).all()


def alerts_of(session: Session, sighting_ids: Sequence[int]) -> Sequence[Alert]:
    return session.scalars(
        select(Alert).where(Alert.sighting_id.in_(list(sighting_ids))).order_by(Alert.id)
    ).all()


def recent_sightings(
    session: Session, *, limit: int, camera_id: str | None, camera_ids: Collection[str] | None = None
) -> Sequence[Sighting]:
    query = select(Sighting)
    if camera_id is not None:
        query = query.where(Sighting.camera_id == camera_id)
    if camera_ids is not None:
        query = query.where(Sighting.camera_id.in_(sorted(camera_ids)))
    return session.scalars(query.order_by(Sighting.started_at.desc(), Sighting.id.desc()).limit(limit)).all()


def alerts_after(
    session: Session, *, after_id: int, limit: int, camera_ids: Collection[str] | None = None
) -> Sequence[Alert]:
    query = select(Alert).where(Alert.id > after_id)
    if camera_ids is not None:
        query = query.where(Alert.camera_id.in_(sorted(camera_ids)))
    return session.scalars(query.order_by(Alert.id).limit(limit)).all()


def recent_alerts(
    session: Session, *, limit: int, status: str | None, camera_ids: Collection[str] | None = None
) -> Sequence[Alert]:
    query = select(Alert)
    if camera_ids is not None:
        query = query.where(Alert.camera_id.in_(sorted(camera_ids)))
    if status is not None:
        query = query.where(Alert.status == status)
    return session.scalars(query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)).all()


def sightings_page(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    camera_id: str | None = None,
    camera_ids: Collection[str] | None = None,
) -> Sequence[Sighting]:
    """Newest stored first, by id: a stable cursor (`before_id`) however times interleave."""
    query = select(Sighting)
    if before_id is not None:
        query = query.where(Sighting.id < before_id)
    if camera_id is not None:
        query = query.where(Sighting.camera_id == camera_id)
    if camera_ids is not None:
        query = query.where(Sighting.camera_id.in_(sorted(camera_ids)))
    return session.scalars(query.order_by(Sighting.id.desc()).limit(limit)).all()


def sighting_margins(session: Session, sighting_ids: Collection[int]) -> dict[int, float | None]:
    query = select(Sighting.id, Sighting.margin).where(Sighting.id.in_(sorted(set(sighting_ids))))
    return {sighting_id: margin for sighting_id, margin in session.execute(query)}


def alerts_page(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    status: str | None = None,
    camera_id: str | None = None,
    camera_ids: Collection[str] | None = None,
    order_id: int | None = None,
) -> Sequence[Alert]:
    """Newest first, by id, from `before_id` (exclusive)."""
    query = select(Alert)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    if order_id is not None:
        query = query.where(Alert.order_id == order_id)
    if status is not None:
        query = query.where(Alert.status == status)
    if camera_id is not None:
        query = query.where(Alert.camera_id == camera_id)
    if camera_ids is not None:
        query = query.where(Alert.camera_id.in_(sorted(camera_ids)))
    return session.scalars(query.order_by(Alert.id.desc()).limit(limit)).all()


def persons_page(
    session: Session, *, limit: int, after_id: int | None = None, watchlist_id: int | None = None
) -> list[PersonRow]:
    """In id order, from `after_id` (exclusive)."""
    query = _persons_query()
    if after_id is not None:
        query = query.where(Person.id > after_id)
    if watchlist_id is not None:
        query = query.where(Person.watchlist_id == watchlist_id)
    return [PersonRow(p, w, refs, tmpls) for p, w, refs, tmpls in session.execute(query.limit(limit))]


def watchlist_sizes(session: Session) -> dict[int, int]:
    """Persons (pending ones too) per watchlist id; a list with none is absent."""
    query = select(Person.watchlist_id, func.count(Person.id)).group_by(Person.watchlist_id)
    return {watchlist_id: count for watchlist_id, count in session.execute(query)}


def count_sightings(session: Session) -> int:
    return session.scalar(select(func.count(Sighting.id))) or 0


def all_crop_paths(session: Session) -> set[str]:
    return set(session.scalars(select(Sighting.crop_path)))


# --- two-person changes and alert confirmations --------------------------------------------


def insert_change(
    session: Session,
    *,
    kind: ChangeKind,
    object: str,
    params: Mapping[str, Any],
    proposed_by: str,
    proposed_role: str,
    proposed_by_service: bool,
    now: datetime,
) -> ChangeRow:
    row = ChangeRow(
        kind=kind.value,
        object=object,
        payload=encode_payload(params, service=proposed_by_service),
        status=ChangeStatus.PENDING.value,
        proposed_by=proposed_by,
        proposed_role=proposed_role,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def encode_payload(params: Mapping[str, Any], *, service: bool, note: str = "") -> str:
    """The stored payload: the change's parameters, whether a service token proposed it, and
    the note of a refusal."""
    body: dict[str, Any] = {"params": dict(params), "proposed_by_service": service}
    if note:
        body["note"] = note
    return json.dumps(body, sort_keys=True)


def decode_payload(payload: str) -> tuple[dict[str, Any], bool, str]:
    """(params, proposed_by_service, note) of a stored payload."""
    body = json.loads(payload)
    params = dict(body.get("params", {}))
    return params, bool(body.get("proposed_by_service", False)), str(body.get("note", ""))


def change_by_id(session: Session, change_id: int) -> ChangeRow | None:
    return session.get(ChangeRow, change_id)


def changes(
    session: Session, *, status: str | None, object: str | None = None, limit: int | None = None
) -> Sequence[ChangeRow]:
    query = select(ChangeRow)
    if status is not None:
        query = query.where(ChangeRow.status == status)
    if object is not None:
        query = query.where(ChangeRow.object == object)
    query = query.order_by(ChangeRow.id)
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()


def withdraw_changes(
    session: Session,
    object: str,
    *,
    now: datetime,
    note: str,
    decided_by: str | None = None,
    keep: int | None = None,
) -> int:
    """Close the pending changes on `object` (but `keep`) as refused: what they would have
    changed is gone. Returns how many were closed."""
    closed = 0
    for row in changes(session, status=ChangeStatus.PENDING.value, object=object):
        if row.id == keep:
            continue
        params, service, _note = decode_payload(row.payload)
        row.status = ChangeStatus.REFUSED.value
        row.decided_at = now
        row.decided_by = decided_by
        row.payload = encode_payload(params, service=service, note=note)
        closed += 1
    session.flush()
    return closed


def pending_reference_ids(session: Session) -> set[int]:
    """Reference images added to an existing person and not yet approved by a second person."""
    rows = session.scalars(
        select(ChangeRow.payload).where(
            ChangeRow.kind == ChangeKind.PERSON_REFERENCE.value,
            ChangeRow.status == ChangeStatus.PENDING.value,
        )
    )
    return {int(i) for payload in rows for i in decode_payload(payload)[0].get("reference_ids", [])}


def alert_by_id(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def confirmations_of(session: Session, alert_id: int) -> Sequence[AlertConfirmationRow]:
    return session.scalars(
        select(AlertConfirmationRow)
        .where(AlertConfirmationRow.alert_id == alert_id)
        .order_by(AlertConfirmationRow.id)
    ).all()


def insert_confirmation(
    session: Session, *, alert_id: int, actor: str, role: str, now: datetime
) -> AlertConfirmationRow:
    row = AlertConfirmationRow(alert_id=alert_id, actor=actor, role=role, at=now)
    session.add(row)
    session.flush()
    return row


def change_info(row: ChangeRow) -> ChangeInfo:
    params, service, note = decode_payload(row.payload)
    return ChangeInfo(
        id=row.id,
        kind=ChangeKind(row.kind),
        object=row.object,
        params=params,
        status=ChangeStatus(row.status),
        proposed_by=row.proposed_by,
        proposed_role=row.proposed_role,
        proposed_by_service=service,
        created_at=row.created_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=note,
    )
