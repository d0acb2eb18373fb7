"""Queries and inserts of watchlists, persons, references and templates; the caller's session commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, or_, select
from sqlalchemy.orm import Session

from citywatch.domain.errors import NotFound
from citywatch.store.change_queries import pending_reference_ids
from citywatch.store.retention_tables import RequestRow
from citywatch.store.watchlist_tables import (
    ORDER_CATEGORY,
    FaceTemplate,
    OrderRow,
    Person,
    ReferenceImage,
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


def gallery_rows(session: Session, *, model: str, now: datetime) -> list[Row[Any]]:
    """Templates matched against: approved (active) persons on active, unexpired watchlists,
    without the reference images still waiting for a second person; on a stay-at-home
    watchlist, only persons under an order in force. Plain rows (`template_id`, `vector`,
    `dim`, `person_id`, `person_name`, `watchlist_id`, `watchlist_name`, `threshold`,
    `margin`), not ORM objects: a worker reloads tens of thousands of them."""
    held_back = pending_reference_ids(session)
    query = (
        select(
            FaceTemplate.id.label("template_id"),
            FaceTemplate.vector,
            FaceTemplate.dim,
            FaceTemplate.reference_image_id,
            Person.id.label("person_id"),
            Person.display_name.label("person_name"),
            Watchlist.id.label("watchlist_id"),
            Watchlist.name.label("watchlist_name"),
            Watchlist.threshold,
            Watchlist.margin,
        )
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
    rows: list[Row[Any]] = [r for r in session.execute(query) if r.reference_image_id not in held_back]  # type: ignore[misc]
    return rows


def all_reference_paths(session: Session) -> set[str]:
    return set(session.scalars(select(ReferenceImage.blob_path)))


def all_request_photo_paths(session: Session) -> set[str]:
    """The requester photos open subject-access requests still keep."""
    return {p for p in session.scalars(select(RequestRow.photo_path)) if p}


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
