"""Queries and inserts on one Session. Nothing here commits: the caller's `db.session()` does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from citywatch.store.tables import Alert, FaceTemplate, Person, ReferenceImage, Sighting, Watchlist

# --- watchlists ---------------------------------------------------------------------------


def watchlist_by_name(session: Session, name: str) -> Watchlist | None:
    return session.scalars(select(Watchlist).where(Watchlist.name == name)).one_or_none()


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
    session: Session, *, watchlist_id: int, display_name: str, notes: str, now: datetime
) -> Person:
    row = Person(
        watchlist_id=watchlist_id, display_name=display_name, notes=notes, created_at=now, updated_at=now
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
    query = (
        select(FaceTemplate, Person, Watchlist)
        .join(Person, FaceTemplate.person_id == Person.id)
        .join(Watchlist, Person.watchlist_id == Watchlist.id)
        .where(
            FaceTemplate.model == model,
            Watchlist.active.is_(True),
            or_(Watchlist.expires_at.is_(None), Watchlist.expires_at > now),
        )
        .order_by(FaceTemplate.id)
    )
    return [(template, person, watchlist) for template, person, watchlist in session.execute(query)]


def all_reference_paths(session: Session) -> set[str]:
    return set(session.scalars(select(ReferenceImage.blob_path)))


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


def recent_sightings(session: Session, *, limit: int, camera_id: str | None) -> Sequence[Sighting]:
    query = select(Sighting)
    if camera_id is not None:
        query = query.where(Sighting.camera_id == camera_id)
    return session.scalars(query.order_by(Sighting.started_at.desc(), Sighting.id.desc()).limit(limit)).all()


def recent_alerts(session: Session, *, limit: int, status: str | None) -> Sequence[Alert]:
    query = select(Alert)
    if status is not None:
        query = query.where(Alert.status == status)
    return session.scalars(query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)).all()


def count_sightings(session: Session) -> int:
    return session.scalar(select(func.count(Sighting.id))) or 0


def all_crop_paths(session: Session) -> set[str]:
    return set(session.scalars(select(Sighting.crop_path)))
