"""The audit log's tables: the chain of records, its signed checkpoints and the anchors of pruned parts."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citywatch.store.base import Base


class AuditRecord(Base):
    """One link of the audit chain (see citywatch.audit.chain); never biometric data."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object: Mapped[str] = mapped_column(String(300), index=True)
    legal_basis: Mapped[str] = mapped_column(String(500))
    authorisation: Mapped[str] = mapped_column(String(200))
    case_ref: Mapped[str] = mapped_column(String(200))
    params: Mapped[str] = mapped_column(Text)
    """Canonical JSON."""
    result_count: Mapped[int | None]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement that the chain had `hash` at record `seq`."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    signed_at: Mapped[str] = mapped_column(String(40))


class AuditAnchor(Base):
    """A signed statement that records 1..`seq` were pruned under retention and that record
    `seq` had `hash`: the pruned chain verifies from here. Kept forever (no personal data)."""

    __tablename__ = "audit_anchors"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    """Ed25519 over citywatch.audit.chain.anchor_message(seq, hash), hex."""
    first_seq: Mapped[int]
    """The first record this prune deleted (the previous anchor's seq + 1)."""
    pruned: Mapped[int]
    """How many records this prune deleted."""
    first_at: Mapped[str] = mapped_column(String(40))
    """Time of the first record deleted, ISO 8601 UTC."""
    last_at: Mapped[str] = mapped_column(String(40))
    """Time of the last record deleted (record `seq`), ISO 8601 UTC."""
    anchored_at: Mapped[str] = mapped_column(String(40))
