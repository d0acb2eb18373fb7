"""The audit log: appends records to the chain inside the caller's transaction, signs
checkpoints, writes the signed head to the witness after every commit that appended, prunes
the oldest records under retention behind a signed anchor, and verifies what is stored
against the witness."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import ColumnElement, delete, event, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from citywatch.audit.chain import (
    GENESIS,
    Anchor,
    AuditEntry,
    Checkpoint,
    SignedHead,
    Verdict,
    WitnessRead,
    sealed,
    sign_anchor,
    sign_checkpoint,
    sign_head,
    verify,
)
from citywatch.audit.witness import WitnessFile, read_witness
from citywatch.domain.audit import Action
from citywatch.domain.errors import Unavailable
from citywatch.store.audit_tables import AuditAnchor, AuditCheckpoint, AuditRecord
from citywatch.store.db import AUDIT_TABLES, Database, serialise

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 100
CHAIN_LOCK = 0x6377_6175
"""The key the chain's appenders queue on (`store.db.serialise`): one chain, one lock."""
"""A signed checkpoint is written with every this-many records (and on demand)."""

PRUNE_ACTION = Action.AUDIT_PRUNE
"""The action of the record a prune appends before it deletes."""

_PENDING_HEAD = "citywatch.audit.pending_head"
"""`session.info` key: the newest record appended in the session's open transaction."""
_LISTENING = "citywatch.audit.listening"


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
    def __init__(self, db: Database, key: Ed25519PrivateKey, *, witness: WitnessFile | None = None) -> None:
        """`witness`: where the signed head goes after every commit that appended, and what
        verify compares with (None: no witness, as in unit tests of the chain alone)."""
        self._db = db
        self._key = key
        self._witness = witness

    @property
    def witness(self) -> WitnessFile | None:
        return self._witness

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def append(
        self,
        session: Session,
        *,
        actor: str,
        role: str,
        action: Action | str,
        object: str,
        legal_basis: str = "",
        authorisation: str = "",
        case: str = "",
        params: Mapping[str, Any] | None = None,
        result_count: int | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Add a record in `session`: it commits or rolls back with the action it records.
        Appends queue for the chain (`store.db.serialise`), so sequence numbers never clash
        and each record names the hash of the one committed before it, however many
        processes write at once.

        `action`: one of the catalogue's (`citywatch.domain.audit`), checked where the code
        builds its AuditEvent; the chain itself stores and verifies any string."""
        serialise(session, CHAIN_LOCK)
        last = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).first()
        entry = sealed(
            AuditEntry(
                seq=1 if last is None else last.seq + 1,
                at=(at or datetime.now(UTC)).astimezone(UTC).isoformat(),
                actor=actor,
                role=role,
                action=str(action),
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
        self._witness_on_commit(session, entry)
        return entry

    def _witness_on_commit(self, session: Session, entry: AuditEntry) -> None:
        """Sign `entry` as the head and append it to the witness once `session` commits
        (forgotten if it rolls back): a head never names a record that was not committed."""
        if self._witness is None:
            return
        session.info[_PENDING_HEAD] = (entry.seq, entry.hash)
        if session.info.get(_LISTENING) is not self:
            session.info[_LISTENING] = self
            event.listen(session, "after_commit", self._committed)
            event.listen(session, "after_rollback", _forget_head)

    def _committed(self, session: Session) -> None:
        pending = session.info.pop(_PENDING_HEAD, None)
        if pending is not None:
            self._witness_head(*pending)

    def _witness_head(self, seq: int, head_hash: str) -> SignedHead:
        """Sign and append a head. A failed write is logged, not raised: the action it follows
        has committed, and the next commit's head covers this one (verify notes the lag)."""
        head = sign_head(self._key, seq, head_hash, datetime.now(UTC).isoformat())
        if self._witness is not None:
            try:
                self._witness.append(head)
            except OSError as exc:
                log.error("audit witness %s not written for record %d: %s", self._witness.path, seq, exc)
        return head

    def head(self) -> SignedHead | None:
        """Sign the current head of the chain and append it to the witness; the same line is
        what an operator ships elsewhere (`citywatch audit head`). None when the log is empty."""
        with self._db.session(write=False) as session:
            last = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).first()
            if last is None:
                return None
            seq, head_hash = last.seq, last.hash
        return self._witness_head(seq, head_hash)

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head of the chain, as a checkpoint and in the witness (None when
        the log is empty). A log written before the witness existed starts its witness so."""
        with self._db.session() as session:
            serialise(session, CHAIN_LOCK)
            last = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).first()
            if last is None:
                return None
            cp = self._checkpoint(session, _entry(last))
        self._witness_head(cp.seq, cp.hash)
        return cp

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
        self,
        session: Session,
        *,
        before: datetime,
        now: datetime,
        actor: str,
        role: str,
        settings: Mapping[str, Any] | None = None,
    ) -> AuditPrune | None:
        """Record the prune as the next link of the chain, then delete the records older than
        `before` (see `due`) and their checkpoints, and sign an anchor on the last one deleted,
        all inside the caller's transaction. None when nothing is due.

        The `audit.prune` record is appended first, so the chain is never empty and always
        continues from its newest record: a chain whose every record was deleted starts again
        at record 1, which `verify` refuses under the anchor.

        `settings`: what the prune ran under and who started it (retention days, the process,
        the configuration file), kept in the record's params beside the cut-off."""
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
                **dict(settings or {}),
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
        settings: Mapping[str, Any] | None = None,
    ) -> AuditPrune | None:
        """Prune in a transaction of its own, then checkpoint the WAL (`secure_delete` has
        zeroed the rows; the WAL must not keep a copy). The purge calls `prune_in` instead,
        inside its own transaction, and checkpoints once for both."""
        with self._db.session() as session:
            done = self.prune_in(session, before=before, now=now, actor=actor, role=role, settings=settings)
        if done is not None:
            try:
                self._db.checkpoint(erase=AUDIT_TABLES)
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

    def verify(self, public_key: Ed25519PublicKey | None = None, *, witness: Path | None = None) -> Verdict:
        """Check the stored chain, its checkpoints and anchor, and the chain against the witness
        (the file at `witness`, e.g. a copy shipped elsewhere, else the configured one), with
        the given (exported) public key or our own.

        The witness is read before the database: its heads are written only after their
        commit, so every head read then is covered by the snapshot read after it, even while
        other processes append."""
        read: WitnessRead | None = None
        if witness is not None:
            read = _read(witness)
        elif self._witness is not None:
            read = _read(self._witness.path)
        with self._db.session(write=False) as session:
            entries = [_entry(r) for r in session.scalars(select(AuditRecord).order_by(AuditRecord.seq))]
            checkpoints = [
                Checkpoint(c.seq, c.hash, c.signature)
                for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
            ]
            latest = _latest_anchor(session)
        anchor = None if latest is None else Anchor(latest.seq, latest.hash, latest.signature)
        return verify(
            entries,
            checkpoints,
            public_key or self.public_key,
            anchor,
            witness=read,
            checkpoint_every=CHECKPOINT_EVERY,
        )


def _read(path: Path) -> WitnessRead:
    try:
        return read_witness(path)
    except OSError as exc:
        raise Unavailable(f"cannot read the audit witness {path}: {exc}") from None


def _forget_head(session: Session) -> None:
    session.info.pop(_PENDING_HEAD, None)


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
