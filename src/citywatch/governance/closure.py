"""Closing an ended authorisation: what its end deletes, and the receipt that records it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from citywatch.audit.receipts import write_receipt
from citywatch.domain.audit import SYSTEM
from citywatch.governance.records import (
    ActorAuditHook,
    DeletionReceipt,
    authorisation_info,
    end_reason,
    id_range,
    require_auth,
)
from citywatch.store.governance_tables import AuthorisationRow
from citywatch.store.sighting_tables import Alert, Sighting
from citywatch.store.watchlist_tables import FaceTemplate, NonMatchRow, Person, Watchlist


def due_for_closing(session: Session, now: datetime) -> list[str]:
    """The references of the open authorisations that have ended by `now`, then of the closed
    ones whose watchlists (still bound to them) have had templates enrolled since."""
    open_rows = session.scalars(select(AuthorisationRow).where(AuthorisationRow.closed_at.is_(None)))
    due = [r.reference for r in open_rows if authorisation_info(session, r).authorisation.ended(now)]
    due += session.scalars(
        select(AuthorisationRow.reference)
        .distinct()
        .join(Watchlist, Watchlist.authorisation_id == AuthorisationRow.id)
        .join(Person, Person.watchlist_id == Watchlist.id)
        .join(FaceTemplate, FaceTemplate.person_id == Person.id)
        .where(AuthorisationRow.closed_at.is_not(None))
    ).all()
    return due


def close_authorisation(
    session: Session, audit: ActorAuditHook, reference: str, now: datetime
) -> tuple[DeletionReceipt | None, list[str]]:
    """Close `reference` in `session` if it has ended: delete what its end takes and write
    the receipt. Returns the receipt and the crop files to unlink once committed, or
    (None, []) when there is nothing to close."""
    row = require_auth(session, reference)
    auth = authorisation_info(session, row).authorisation
    already = row.closed_at is not None
    if not auth.ended(now):
        return None, []
    reason = "templates added after it closed" if already else end_reason(auth, now)
    sightings: Sequence[Sighting] = []
    if auth.lapsed(now) and not already:
        sightings = session.scalars(
            select(Sighting).where(Sighting.authorisation_id == row.id).order_by(Sighting.id)
        ).all()
    templates = _templates_under(session, row)
    receipt = _receipt(reference, reason, sightings, templates)
    crops = [s.crop_path for s in sightings]
    if already and not templates:
        return None, []  # swept by another process meanwhile
    non_matches = _delete(session, sightings, templates)
    row.closed_at = row.closed_at or now
    write_receipt(
        session,
        audit,
        "authorisation",
        now,
        policy_version=f"authorisation:{reference}",
        counts={"sightings": receipt.sightings, "templates": receipt.templates}
        | ({"non_matches": non_matches} if non_matches else {}),
        details={
            "reason": reason,
            "sighting_ids": receipt.sighting_ids,
            "crop_sha256s": list(receipt.crop_sha256s),
            "template_ids": receipt.template_ids,
            "templates_sha256": receipt.templates_sha256,
        },
        by=SYSTEM,
        authorisation=reference,
        legal_basis=auth.legal_basis,
    )
    return receipt, crops


def _templates_under(session: Session, row: AuthorisationRow) -> Sequence[FaceTemplate]:
    """The templates of the watchlists bound to `row`, by id."""
    return session.scalars(
        select(FaceTemplate)
        .join(Person, FaceTemplate.person_id == Person.id)
        .join(Watchlist, Person.watchlist_id == Watchlist.id)
        .where(Watchlist.authorisation_id == row.id)
        .order_by(FaceTemplate.id)
    ).all()


def _receipt(
    reference: str, reason: str, sightings: Sequence[Sighting], templates: Sequence[FaceTemplate]
) -> DeletionReceipt:
    """What the closure deletes: counts, id ranges and hashes, no content."""
    digest = hashlib.sha256()
    for t in templates:
        digest.update(t.vector)
    return DeletionReceipt(
        authorisation=reference,
        reason=reason,
        sightings=len(sightings),
        sighting_ids=id_range([s.id for s in sightings]),
        crop_sha256s=tuple(s.crop_sha256 for s in sightings),
        templates=len(templates),
        template_ids=id_range([t.id for t in templates]),
        templates_sha256=digest.hexdigest(),
    )


def _delete(session: Session, sightings: Sequence[Sighting], templates: Sequence[FaceTemplate]) -> int:
    """Delete the sightings and templates; returns how many remembered non-matches went too."""
    non_matches: list[int] = []
    if sightings:
        # faces remembered from these sightings' alerts (dismissed false matches) go too
        of_alerts = select(Alert.id).where(Alert.sighting_id.in_([s.id for s in sightings]))
        non_matches = list(session.scalars(select(NonMatchRow.id).where(NonMatchRow.alert_id.in_(of_alerts))))
        session.execute(delete(NonMatchRow).where(NonMatchRow.id.in_(non_matches)))
        session.execute(delete(Sighting).where(Sighting.id.in_([s.id for s in sightings])))
    if templates:
        session.execute(delete(FaceTemplate).where(FaceTemplate.id.in_([t.id for t in templates])))
    return len(non_matches)
