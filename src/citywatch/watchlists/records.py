"""Watchlist rows as records (never an ORM object out of a session), and the audit record of
a new watchlist."""

from __future__ import annotations

from citywatch.domain import values
from citywatch.domain.audit import Action, AuditEvent
from citywatch.domain.errors import InvalidInput
from citywatch.domain.records import NewReference, PersonInfo, Severity, WatchlistCategory, WatchlistInfo
from citywatch.store import vectors, watchlist_queries
from citywatch.store.watchlist_tables import Watchlist


def watchlist_created(
    watchlist_id: int,
    name: str,
    category: str,
    threshold: float | None,
    margin: float | None,
    *,
    severity: Severity = Severity.MEDIUM,
) -> AuditEvent:
    params = {
        "name": name,
        "category": category,
        "threshold": threshold,
        "margin": margin,
        "severity": severity.value,
    }
    return AuditEvent(Action.WATCHLIST_CREATE, f"watchlist:{watchlist_id}", params=params)


def checked_reference(ref: NewReference) -> tuple[NewReference, bytes]:
    """The reference with its provenance trimmed and required, and its encoded template."""
    if not ref.image_bytes:
        raise InvalidInput("the reference image is empty")
    clean = NewReference(
        image_bytes=ref.image_bytes,
        suffix=ref.suffix,
        source=values.required_text(ref.source, "source of the reference image"),
        legal_basis=values.required_text(ref.legal_basis, "legal basis of the reference image"),
        model=values.required_text(ref.model, "model name", max_len=100),
        vector=ref.vector,
    )
    return clean, vectors.encode(ref.vector)


def watchlist_info(row: Watchlist) -> WatchlistInfo:
    return WatchlistInfo(
        id=row.id,
        name=row.name,
        category=WatchlistCategory(row.category),
        threshold=row.threshold,
        margin=row.margin,
        active=row.active,
        expires_at=row.expires_at,
        created_at=row.created_at,
        severity=Severity(row.severity),
    )


def person_info(row: watchlist_queries.PersonRow) -> PersonInfo:
    person = row.person
    return PersonInfo(
        id=person.id,
        watchlist_id=row.watchlist.id,
        watchlist_name=row.watchlist.name,
        display_name=person.display_name,
        notes=person.notes,
        created_at=person.created_at,
        updated_at=person.updated_at,
        reference_images=row.reference_images,
        templates=row.templates,
        status=person.status,
        proposed_by=person.proposed_by,
        approved_by=person.approved_by,
    )
