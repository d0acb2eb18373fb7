"""Deletion receipts: what was deleted, when, under which retention policy, proven by an
audit record written in the deletion's own transaction (a purge, a hold released, an
authorisation closed, an order ended). Receipts hold counts and ids, never personal data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.audit.hooks import ActorAuditHook
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.store.audit_tables import AuditRecord
from citywatch.store.retention_tables import ReceiptRow


@dataclass(frozen=True, slots=True)
class ReceiptInfo:
    id: int
    kind: str
    at: datetime
    policy_version: str
    counts: dict[str, int]
    details: dict[str, Any]
    audit_seq: int | None


RECEIPT_ACTION = {
    "purge": Action.RECEIPT_PURGE,
    "hold_release": Action.RECEIPT_HOLD_RELEASE,
    "authorisation": Action.RECEIPT_AUTHORISATION,
    "order": Action.RECEIPT_ORDER,
}
"""The action recording each kind of receipt."""


def write_receipt(
    session: Session,
    audit: ActorAuditHook,
    kind: str,
    now: datetime,
    *,
    policy_version: str,
    counts: dict[str, int],
    details: dict[str, Any],
    by: Actor,
    authorisation: str = "",
    legal_basis: str = "",
) -> ReceiptInfo:
    """A receipt row and its audit record, in the caller's transaction (the deletion's)."""
    row = ReceiptRow(
        kind=kind,
        at=now,
        policy_version=policy_version,
        counts=json.dumps(counts, sort_keys=True),
        details=json.dumps(details, sort_keys=True),
    )
    session.add(row)
    session.flush()
    audit(
        session,
        by,
        AuditEvent(
            RECEIPT_ACTION[kind],
            f"receipt:{row.id}",
            legal_basis=legal_basis,
            authorisation=authorisation,
            params={"counts": counts, "policy_version": policy_version, **details},
            result_count=sum(counts.values()),
        ),
    )
    session.flush()
    row.audit_seq = session.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1))
    return receipt_info(row)


def receipt_info(row: ReceiptRow) -> ReceiptInfo:
    return ReceiptInfo(
        id=row.id,
        kind=row.kind,
        at=row.at,
        policy_version=row.policy_version,
        counts=json.loads(row.counts),
        details=json.loads(row.details),
        audit_seq=row.audit_seq,
    )
