"""The audit log: appends records to the chain inside the caller's transaction, signs
checkpoints, prunes the oldest records under retention behind a signed anchor, and verifies
what is stored."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from citywatch.audit.chain import (
    GENESIS,
    Anchor,
    AuditEntry,
    Checkpoint,
    Verdict,
    sealed,
    sign_anchor,
    sign_checkpoint,
    verify,
)
from citywatch.domain.errors import Unavailable
from citywatch.store.db import Database
from citywatch.store.tables import AuditAnchor, AuditCheckpoint, AuditRecord

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 100
"""A signed checkpoint is written with every this-many records (and on demand)."""

PRUNE_ACTION = "audit.prune"


@dataclass(frozen=True, slots=True)
class AuditSpan:
    """The oldest records, `first_seq`..`last_seq`: what a prune deletes (or would)."""

    first_seq: int
    last_seq: int
    count: int
    first_at: str
    """Time of record `first_seq`, ISO 8601 UTC."""
    last_at: str
    """Time of record `last_seq`."""
    last_hash: str
    """Hash of record `last_seq`: what the anchor signs and the next record follows."""


@dataclass(frozen=True, slots=True)
class AnchorInfo:
    """A stored anchor: the signed statement, the records its prune deleted, and when."""

    anchor: Anchor
    pruned: AuditSpan
    anchored_at: str


@dataclass(frozen=True, slots=True)
class AuditPrune:
    """What a prune did: the anchor it wrote and its own `audit.prune` record after it."""

    anchor: AnchorInfo
    record: AuditEntry


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

    def due(self, session: Session, before: datetime) -> AuditSpan | None:
        """The records a prune at `before` deletes: the longest run from the oldest (by
        sequence) whose times are all before `before`. A record written late, under a clock
        set back, ends the run early rather than leaving a hole in the chain."""
        cutoff = before.astimezone(UTC)
        first: tuple[int, str] | None = None
        last: tuple[int, str, str] | None = None
        stmt = select(AuditRecord.seq, AuditRecord.at, AuditRecord.hash).order_by(AuditRecord.seq)
        with session.execute(stmt.execution_options(yield_per=1000)) as rows:
            for seq, at, hash_ in rows:
                if datetime.fromisoformat(at) >= cutoff:
                    break
                first = first or (seq, at)
                last = (seq, at, hash_)
        if first is None or last is None:
            return None
        count = session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.seq <= last[0])
        )
        return AuditSpan(first[0], last[0], count or 0, first[1], last[1], last[2])

    def prune_in(
        self, session: Session, *, before: datetime, now: datetime, actor: str, role: str
    ) -> AuditPrune | None:
        """Record the prune as the next link of the chain, then delete the records older than
        `before` (see `due`) and their checkpoints, and sign an anchor on the last one deleted,
        all inside the caller's transaction. None when nothing is due.

        The `audit.prune` record is appended first, so the chain is never empty and always
        continues from its newest record: a chain whose every record was deleted starts again
        at record 1, which `verify` refuses under the anchor."""
        span = self.due(session, before)
        if span is None:
            return None
        anchor = sign_anchor(self._key, span.last_seq, span.last_hash)
        info = AnchorInfo(anchor, span, now.astimezone(UTC).isoformat())
        record = self.append(
            session,
            actor=actor,
            role=role,
            action=PRUNE_ACTION,
            object=f"audit:{span.first_seq}-{span.last_seq}",
            params={
                "before": before.astimezone(UTC).isoformat(),
                "seq_range": [span.first_seq, span.last_seq],
                "from": span.first_at,
                "until": span.last_at,
                "anchor": {"seq": anchor.seq, "hash": anchor.hash, "signature": anchor.signature},
            },
            result_count=span.count,
            at=now,
        )
        session.flush()
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq <= span.last_seq))
        session.execute(delete(AuditRecord).where(AuditRecord.seq <= span.last_seq))
        session.add(
            AuditAnchor(
                seq=anchor.seq,
                hash=anchor.hash,
                signature=anchor.signature,
                first_seq=span.first_seq,
                pruned=span.count,
                first_at=span.first_at,
                last_at=span.last_at,
                anchored_at=info.anchored_at,
            )
        )
        session.flush()
        return AuditPrune(info, record)

    def prune(
        self,
        *,
        before: datetime,
        now: datetime,
        actor: str = "citywatch@system",
        role: str = "system",
    ) -> AuditPrune | None:
        """Prune in a transaction of its own, then checkpoint the WAL (`secure_delete` has
        zeroed the rows; the WAL must not keep a copy). The purge calls `prune_in` instead,
        inside its own transaction, and checkpoints once for both."""
        with self._db.session() as session:
            done = self.prune_in(session, before=before, now=now, actor=actor, role=role)
        if done is not None:
            try:
                self._db.checkpoint()
            except Unavailable:
                log.warning("audit prune committed, but the WAL checkpoint failed; the next one completes it")
        return done

    def anchors(self) -> list[AnchorInfo]:
        """Every anchor, oldest first (kept forever: they hold no personal data)."""
        with self._db.session(write=False) as session:
            return [_anchor_info(a) for a in session.scalars(select(AuditAnchor).order_by(AuditAnchor.seq))]

    def entries(self) -> list[AuditEntry]:
        with self._db.session(write=False) as session:
            return [_entry(r) for r in session.scalars(select(AuditRecord).order_by(AuditRecord.seq))]

    def page(
        self,
        *,
        limit: int,
        before: int | None = None,
        action: str | None = None,
        actor: str | None = None,
        object: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEntry]:
        """Up to `limit` records, newest first, with `seq` below `before`; filtered by action,
        actor and object (each exactly, or by prefix when it ends in `*`: `request.*`,
        `export:*`) and by time (`since` included, `until` not). One query: SQLite walks the
        primary key down from `before`, or the index of a filter's column (each has one), so
        a page never loads the whole log."""
        query = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(AuditRecord.seq < before)
        for column, value in (
            (AuditRecord.action, action),
            (AuditRecord.actor, actor),
            (AuditRecord.object, object),
        ):
            if value is not None:
                query = query.where(*_matching(column, value))
        if since is not None:
            query = query.where(AuditRecord.at >= since.astimezone(UTC).isoformat())
        if until is not None:
            query = query.where(AuditRecord.at < until.astimezone(UTC).isoformat())
        with self._db.session(write=False) as session:
            return [_entry(r) for r in session.scalars(query)]

    def verify(self, public_key: Ed25519PublicKey | None = None) -> Verdict:
        """Check the stored chain and checkpoints, with the given (exported) public key or our own."""
        with self._db.session(write=False) as session:
            entries = [_entry(r) for r in session.scalars(select(AuditRecord).order_by(AuditRecord.seq))]
            checkpoints = [
                Checkpoint(c.seq, c.hash, c.signature)
                for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
            ]
            latest = _latest_anchor(session)
        anchor = None if latest is None else Anchor(latest.seq, latest.hash, latest.signature)
        return verify(entries, checkpoints, public_key or self.public_key, anchor)


def _matching(column: InstrumentedAttribute[str], value: str) -> list[ColumnElement[bool]]:
    """`column` equal to `value`, or starting with it when it ends in `*`: as a range, which
    the column's index answers (SQLite's LIKE would not use it, being case-insensitive)."""
    if not value.endswith("*"):
        return [column == value]
    prefix = value.rstrip("*")
    if not prefix:
        return []
    return [column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1)]


def _latest_anchor(session: Session) -> AuditAnchor | None:
    return session.scalars(select(AuditAnchor).order_by(AuditAnchor.seq.desc()).limit(1)).first()


def _anchor_info(row: AuditAnchor) -> AnchorInfo:
    return AnchorInfo(
        Anchor(row.seq, row.hash, row.signature),
        AuditSpan(row.first_seq, row.seq, row.pruned, row.first_at, row.last_at, row.hash),
        row.anchored_at,
    )


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
