"""The audit log: appends records to the chain inside the caller's transaction, signs
checkpoints, and verifies what is stored."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.audit.chain import GENESIS, AuditEntry, Checkpoint, Verdict, sealed, sign_checkpoint, verify
from citywatch.store.db import Database
from citywatch.store.tables import AuditCheckpoint, AuditRecord

CHECKPOINT_EVERY = 100
"""A signed checkpoint is written with every this-many records (and on demand)."""


class AuditLog:
    def __init__(self, db: Database, key: Ed25519PrivateKey) -> None:
        self._db = db
        self._key = key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def append(
        self,
        session: Session,
        *,
        actor: str,
        role: str,
        action: str,
        object: str,
        legal_basis: str = "",
        authorisation: str = "",
        case: str = "",
        params: Mapping[str, Any] | None = None,
        result_count: int | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Add a record in `session`: it commits or rolls back with the action it records.
        The caller's write transaction serialises appends, so sequence numbers never clash."""
        last = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).first()
        entry = sealed(
            AuditEntry(
                seq=1 if last is None else last.seq + 1,
                at=(at or datetime.now(UTC)).astimezone(UTC).isoformat(),
                actor=actor,
                role=role,
                action=action,
                object=object,
                legal_basis=legal_basis,
                authorisation=authorisation,
                case=case,
                params=json.loads(json.dumps(dict(params or {}), sort_keys=True)),
                result_count=result_count,
                prev_hash=GENESIS if last is None else last.hash,
            )
        )
        session.add(_row(entry))
        if entry.seq % CHECKPOINT_EVERY == 0:
            self._checkpoint(session, entry)
        return entry

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head of the chain (None when the log is empty)."""
        with self._db.session() as session:
            last = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).first()
            if last is None:
                return None
            return self._checkpoint(session, _entry(last))

    def _checkpoint(self, session: Session, head: AuditEntry) -> Checkpoint:
        cp = sign_checkpoint(self._key, head.seq, head.hash)
        session.merge(
            AuditCheckpoint(
                seq=cp.seq, hash=cp.hash, signature=cp.signature, signed_at=datetime.now(UTC).isoformat()
            )
        )
        return cp

    def entries(self) -> list[AuditEntry]:
        with self._db.session(write=False) as session:
            return [_entry(r) for r in session.scalars(select(AuditRecord).order_by(AuditRecord.seq))]

    def verify(self, public_key: Ed25519PublicKey | None = None) -> Verdict:
        """Check the stored chain and checkpoints, with the given (exported) public key or our own."""
        with self._db.session(write=False) as session:
            entries = [_entry(r) for r in session.scalars(select(AuditRecord).order_by(AuditRecord.seq))]
            checkpoints = [
                Checkpoint(c.seq, c.hash, c.signature)
                for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
            ]
        return verify(entries, checkpoints, public_key or self.public_key)


def _row(e: AuditEntry) -> AuditRecord:
    return AuditRecord(
        seq=e.seq,
        at=e.at,
        actor=e.actor,
        role=e.role,
        action=e.action,
        object=e.object,
        legal_basis=e.legal_basis,
        authorisation=e.authorisation,
        case_ref=e.case,
        params=json.dumps(e.params, sort_keys=True, separators=(",", ":")),
        result_count=e.result_count,
        prev_hash=e.prev_hash,
        hash=e.hash,
    )


def _entry(r: AuditRecord) -> AuditEntry:
    return AuditEntry(
        seq=r.seq,
        at=r.at,
        actor=r.actor,
        role=r.role,
        action=r.action,
        object=r.object,
        legal_basis=r.legal_basis,
        authorisation=r.authorisation,
        case=r.case_ref,
        params=json.loads(r.params),
        result_count=r.result_count,
        prev_hash=r.prev_hash,
        hash=r.hash,
    )
