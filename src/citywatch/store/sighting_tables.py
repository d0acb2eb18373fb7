"""The sighting and alert tables: sightings, alerts, their confirmations, notes and outbox messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from citywatch.store.base import SQLITE_AUTOINCREMENT, Base, one_of

ALERT_STATUSES = ("new", "acknowledged", "confirmed", "dismissed")
ALERT_KINDS = ("match", "order_violation")
SEVERITIES = ("low", "medium", "high", "critical")
OUTBOX_STATUSES = ("pending", "delivered", "dead")
ALERT_NOTE_KINDS = ("notice", "appeal", "appeal_outcome")


class Sighting(Base):
    __tablename__ = "sightings"
    __table_args__ = (
        Index("ix_sightings_camera_id_started_at", "camera_id", "started_at"),
        CheckConstraint("ended_at >= started_at", name="ends_after_start"),
        SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    track_id: Mapped[int]
    day: Mapped[str] = mapped_column(String(10), index=True)
    """UTC day of `started_at` ('YYYY-MM-DD'): the unit retention purges."""
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime]
    detections: Mapped[int]
    quality: Mapped[float]
    crop_path: Mapped[str] = mapped_column(String(500))
    crop_sha256: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(100))
    template: Mapped[bytes | None] = mapped_column(LargeBinary)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    person_name: Mapped[str | None] = mapped_column(String(200))
    watchlist_id: Mapped[int | None] = mapped_column(
        ForeignKey("watchlists.id", ondelete="SET NULL"), index=True
    )
    distance: Mapped[float | None]
    margin: Mapped[float | None]
    decision: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    authorisation_id: Mapped[int | None] = mapped_column(index=True)
    """The authorisation the sighting was derived under: its artefacts go when it lapses."""
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    """Where a sighting that came over the bus was made (camera, lease token, track): the
    same message delivered twice is stored once."""


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(one_of("status", ALERT_STATUSES), name="status"),
        SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sighting_id: Mapped[int] = mapped_column(ForeignKey("sightings.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    person_name: Mapped[str] = mapped_column(String(200))
    watchlist_id: Mapped[int | None] = mapped_column(
        ForeignKey("watchlists.id", ondelete="SET NULL"), index=True
    )
    watchlist_name: Mapped[str] = mapped_column(String(200))
    distance: Mapped[float]
    status: Mapped[str] = mapped_column(String(20), default="new", server_default="new", index=True)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20), default="match", server_default="match")
    """`match` (a watchlist match) or `order_violation` (seen outside a stay-at-home area)."""
    severity: Mapped[str] = mapped_column(String(10), default="medium", server_default="medium")
    order_id: Mapped[int | None] = mapped_column(index=True)
    """The stay-at-home order an `order_violation` is about (no foreign key: a live table)."""
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    """Who confirmed it (the second person) or dismissed it."""
    decided_at: Mapped[datetime | None]
    dismiss_reason: Mapped[str | None] = mapped_column(Text)


class AlertConfirmationRow(Base):
    """One person's confirmation of an alert; two distinct people make it confirmed."""

    __tablename__ = "alert_confirmations"
    __table_args__ = (UniqueConstraint("alert_id", "actor"), SQLITE_AUTOINCREMENT)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]


class OutboxRow(Base):
    """One alert message for one sink, written with the alert; delivered, retried with
    backoff, or dead-lettered (an operator can replay it)."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(one_of("status", OUTBOX_STATUSES), name="status"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    """Its message names the person, camera and time: it goes with the alert (the purge, an
    authorisation's lapse), delivered or not."""
    sink: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(300))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class AlertNoteRow(Base):
    """What was told to the subject of an alert (notice), their appeal and its outcome."""

    __tablename__ = "alert_notes"
    __table_args__ = (
        CheckConstraint(one_of("kind", ALERT_NOTE_KINDS), name="kind"),
        CheckConstraint("length(trim(text)) > 0", name="text_not_blank"),
        SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]


class CameraFence(Base):
    """The highest lease token a camera's writes have come under: a write under a lower one
    comes from a worker that lost the camera's lease (fencing)."""

    __tablename__ = "camera_fences"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
