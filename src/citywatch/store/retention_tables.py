"""The footage tables: recordings, legal holds, deletion receipts, public requests and their exports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citywatch.store.base import SQLITE_AUTOINCREMENT, Base, one_of

HOLD_ITEM_KINDS = ("sighting", "alert", "recording")
REQUEST_KINDS = ("subject_access", "law_enforcement")
REQUEST_STATUSES = ("filed", "in_review", "approved", "refused", "fulfilled", "closed")


class RecordingRow(Base):
    """One footage segment of one camera: a whole MP4 file, written tmp → fsync → rename."""

    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_camera_id_started_at", "camera_id", "started_at"),
        CheckConstraint("ended_at >= started_at", name="ends_after_start"),
        CheckConstraint("size >= 0", name="size_not_negative"),
        SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    path: Mapped[str] = mapped_column(String(500), unique=True)
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class HoldRow(Base):
    """A legal hold: cameras + a time window, and/or named items (JSON [[kind, id], …])."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("length(trim(reason)) > 0", name="reason_not_blank"),
        CheckConstraint("length(trim(reference)) > 0", name="reference_not_blank"),
        CheckConstraint("(starts_at IS NULL) = (ends_at IS NULL)", name="window_whole"),
        SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), index=True)
    """The case or request it serves."""
    reason: Mapped[str] = mapped_column(Text)
    requester: Mapped[str] = mapped_column(String(200))
    cameras: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    items: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(200))


class ReceiptRow(Base):
    """Proof of a deletion: what (counts, id ranges, hashes), why, under which policy, when.
    The same content is chained into the audit log (`audit_seq`)."""

    __tablename__ = "receipts"
    __table_args__ = (SQLITE_AUTOINCREMENT,)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    """`purge`, `hold_release`, `authorisation`."""
    at: Mapped[datetime] = mapped_column(index=True)
    policy_version: Mapped[str] = mapped_column(String(40))
    counts: Mapped[str] = mapped_column(Text)
    """JSON {class: count}."""
    details: Mapped[str] = mapped_column(Text)
    """JSON: id ranges per class, SHA-256 of each deleted file, digest of deleted templates."""
    audit_seq: Mapped[int | None]


class RequestRow(Base):
    """A public subject-access or law-enforcement request for footage and sightings."""

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint(one_of("kind", REQUEST_KINDS), name="kind"),
        CheckConstraint(one_of("status", REQUEST_STATUSES), name="status"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    reference: Mapped[str] = mapped_column(String(200))
    requester: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(300))
    cameras: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    photo_path: Mapped[str | None] = mapped_column(String(500))
    """The requester's own photo (subject access), deleted when the request closes."""
    deadline: Mapped[datetime]
    filed_by: Mapped[str] = mapped_column(String(200))
    """Who recorded it (a user, or the public form's service account)."""
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None]


class ExportRow(Base):
    """A signed export package (zip): clips, sightings, alerts, manifest."""

    __tablename__ = "exports"
    __table_args__ = (SQLITE_AUTOINCREMENT,)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="SET NULL"), index=True)
    reference: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(500), unique=True)
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(index=True)
