"""Queries and inserts of the changes awaiting a second person; the caller's session commits."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.domain.records import ChangeInfo, ChangeKind, ChangeStatus
from citywatch.store.governance_tables import ChangeRow

# --- two-person changes ------------------------------------------------------------------


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
