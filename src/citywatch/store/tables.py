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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WATCHLIST_CATEGORIES = ("wanted", "missing", "stay_at_home", "other")
ALERT_STATUSES = ("new", "acknowledged", "confirmed", "dismissed")

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
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object: Mapped[str] = mapped_column(String(300))
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
