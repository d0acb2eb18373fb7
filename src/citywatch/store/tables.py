"""The metadata schema as SQLAlchemy 2 typed declarative models; migrations/ builds the same by hand.

Every table uses `sqlite_autoincrement` so that ids are never reused after a deletion:
receipts and audit records name rows by id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from citywatch.domain.access import ACCOUNT_ROLES

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WATCHLIST_CATEGORIES = ("wanted", "missing", "stay_at_home", "other")
ORDER_CATEGORY = "stay_at_home"
"""The watchlist category whose persons are matched only while an order concerns them."""
ALERT_STATUSES = ("new", "acknowledged", "confirmed", "dismissed")
ALERT_KINDS = ("match", "order_violation")
SEVERITIES = ("low", "medium", "high", "critical")
OUTBOX_STATUSES = ("pending", "delivered", "dead")
ORDER_STATUSES = ("active", "ended", "revoked")
ALERT_NOTE_KINDS = ("notice", "appeal", "appeal_outcome")

_SQLITE_AUTOINCREMENT: dict[str, Any] = {"sqlite_autoincrement": True}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes, stored as naive UTC so that SQLite compares them as text.

    Naive datetimes are refused: the store never guesses a time zone.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given; the store needs timezone-aware times"
            )
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), float: Float(), int: Integer()}


class Watchlist(Base):
    __tablename__ = "watchlists"
    __table_args__ = (
        CheckConstraint(_in("category", WATCHLIST_CATEGORIES), name="category"),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[float | None]
    margin: Mapped[float | None]
    active: Mapped[bool]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    authorisation_id: Mapped[int | None] = mapped_column(index=True)
    """The authorisation it is bound to (no foreign key: added to a live table); without one
    nothing on it is matched, and when it ends its templates are deleted."""
    severity: Mapped[str] = mapped_column(String(10), default="medium", server_default="medium")
    """What its alerts are raised at (`low`, `medium`, `high`, `critical`)."""


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (
        CheckConstraint("length(trim(display_name)) > 0", name="display_name_not_blank"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="RESTRICT"), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    """`pending` until a second person approves the addition (two-person rule), then `active`."""
    proposed_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    approved_by: Mapped[str] = mapped_column(String(200), default="", server_default="")


class ReferenceImage(Base):
    __tablename__ = "reference_images"
    __table_args__ = (
        CheckConstraint("length(trim(source)) > 0", name="source_not_blank"),
        CheckConstraint("length(trim(legal_basis)) > 0", name="legal_basis_not_blank"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    blob_path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class FaceTemplate(Base):
    __tablename__ = "templates"
    __table_args__ = (
        CheckConstraint("dim > 0", name="dim_positive"),
        CheckConstraint("length(vector) = dim * 4", name="vector_length"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    reference_image_id: Mapped[int] = mapped_column(
        ForeignKey("reference_images.id", ondelete="CASCADE"), index=True
    )
    model: Mapped[str] = mapped_column(String(100), index=True)
    dim: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class Sighting(Base):
    __tablename__ = "sightings"
    __table_args__ = (
        Index("ix_sightings_camera_id_started_at", "camera_id", "started_at"),
        CheckConstraint("ended_at >= started_at", name="ends_after_start"),
        _SQLITE_AUTOINCREMENT,
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


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(_in("status", ALERT_STATUSES), name="status"),
        _SQLITE_AUTOINCREMENT,
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


__all__ = [
    "ALERT_STATUSES",
    "WATCHLIST_CATEGORIES",
    "Alert",
    "Base",
    "FaceTemplate",
    "Person",
    "ReferenceImage",
    "Sighting",
    "UTCDateTime",
    "Watchlist",
]


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


AUTHORISATION_STATUSES = ("pending", "approved", "refused", "revoked")
MODES = ("off", "record", "detect", "watchlist", "investigate")
CHANGE_STATUSES = ("pending", "applied", "refused")


class ZoneRow(Base):
    """A named area: polygon (JSON list of [lat, lon]) and/or cameras named outright (JSON)."""

    __tablename__ = "zones"
    __table_args__ = (CheckConstraint("length(trim(name)) > 0", name="name_not_blank"), _SQLITE_AUTOINCREMENT)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    polygon: Mapped[str] = mapped_column(Text)
    cameras: Mapped[str] = mapped_column(Text)
    protected: Mapped[bool]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class EventRow(Base):
    """A scheduled event in a zone (e.g. a registered assembly): identification off meanwhile."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id", ondelete="RESTRICT"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class PolicyRuleRow(Base):
    """The mode for one camera or every camera of one zone, optionally in a window."""

    __tablename__ = "policy_rules"
    __table_args__ = (
        CheckConstraint(_in("mode", MODES), name="mode"),
        CheckConstraint("(camera_id IS NULL) != (zone_id IS NULL)", name="camera_or_zone"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[str | None] = mapped_column(String(64), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class AuthorisationRow(Base):
    """A recorded permission for identification; scope lists are JSON arrays of names."""

    __tablename__ = "authorisations"
    __table_args__ = (
        CheckConstraint(_in("status", AUTHORISATION_STATUSES), name="status"),
        CheckConstraint("length(trim(legal_basis)) > 0", name="legal_basis_not_blank"),
        CheckConstraint("length(trim(objective)) > 0", name="objective_not_blank"),
        CheckConstraint("length(trim(issuer)) > 0", name="issuer_not_blank"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    issuer: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    objective: Mapped[str] = mapped_column(Text)
    cameras: Mapped[str] = mapped_column(Text)
    zones: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    urgent: Mapped[bool]
    approval_deadline: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    """When its end was enforced (artefacts or templates deleted, receipt written)."""


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ACCOUNT_ROLES), name="role"),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    cameras: Mapped[str | None] = mapped_column(Text)
    """JSON list of camera ids the user is limited to; NULL: every camera."""
    password_hash: Mapped[str | None] = mapped_column(String(200))
    """Argon2id (PHC string); NULL: no password login, tokens only."""
    active: Mapped[bool]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ApiTokenRow(Base):
    """An API token, stored as the SHA-256 of its 256 random bits: never the token itself."""

    __tablename__ = "api_tokens"
    __table_args__ = (_SQLITE_AUTOINCREMENT,)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    service: Mapped[bool]
    """A machine's token: never counts as a person for the two-person rule."""
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    """A console session's end (null: an API token, valid until revoked)."""


class ChangeRow(Base):
    """A change waiting for a second person (two-person rule); payload is JSON."""

    __tablename__ = "changes"
    __table_args__ = (CheckConstraint(_in("status", CHANGE_STATUSES), name="status"), _SQLITE_AUTOINCREMENT)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    object: Mapped[str] = mapped_column(String(300))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]


class AlertConfirmationRow(Base):
    """One person's confirmation of an alert; two distinct people make it confirmed."""

    __tablename__ = "alert_confirmations"
    __table_args__ = (UniqueConstraint("alert_id", "actor"), _SQLITE_AUTOINCREMENT)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]


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
        _SQLITE_AUTOINCREMENT,
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
        _SQLITE_AUTOINCREMENT,
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
    __table_args__ = (_SQLITE_AUTOINCREMENT,)

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
        CheckConstraint(_in("kind", REQUEST_KINDS), name="kind"),
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        _SQLITE_AUTOINCREMENT,
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
    __table_args__ = (_SQLITE_AUTOINCREMENT,)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="SET NULL"), index=True)
    reference: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(500), unique=True)
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(index=True)


class NonMatchRow(Base):
    """A face an operator dismissed as not this person: a sighting template that, for this
    person, must not alert again. Expires with the templates' retention, counted from
    `seen_at` as for the sighting template it copies."""

    __tablename__ = "non_matches"
    __table_args__ = (
        CheckConstraint("length(vector) = dim * 4", name="vector_length"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    camera_id: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(100))
    dim: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(index=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)
    """When the face was seen (its sighting's start)."""


class OutboxRow(Base):
    """One alert message for one sink, written with the alert; delivered, retried with
    backoff, or dead-lettered (an operator can replay it)."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        _SQLITE_AUTOINCREMENT,
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


class OrderRow(Base):
    """A stay-at-home order: one person, a permitted area, a window, its legal reference."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    person_name: Mapped[str] = mapped_column(String(200))
    legal_reference: Mapped[str] = mapped_column(String(200))
    issuing_authority: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(Text)
    """JSON: {"center": [lat, lon], "radius_m": r} or {"polygon": [[lat, lon], ...]}."""
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    ended_by: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]


class AlertNoteRow(Base):
    """What was told to the subject of an alert (notice), their appeal and its outcome."""

    __tablename__ = "alert_notes"
    __table_args__ = (
        CheckConstraint(_in("kind", ALERT_NOTE_KINDS), name="kind"),
        CheckConstraint("length(trim(text)) > 0", name="text_not_blank"),
        _SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
