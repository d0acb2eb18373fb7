"""The biometric tables: watchlists, persons, reference images, face templates, non-matches and orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citywatch.store.base import SQLITE_AUTOINCREMENT, Base, one_of

WATCHLIST_CATEGORIES = ("wanted", "missing", "stay_at_home", "other")
ORDER_CATEGORY = "stay_at_home"
"""The watchlist category whose persons are matched only while an order concerns them."""
ORDER_STATUSES = ("active", "ended", "revoked")


class Watchlist(Base):
    __tablename__ = "watchlists"
    __table_args__ = (
        CheckConstraint(one_of("category", WATCHLIST_CATEGORIES), name="category"),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
        SQLITE_AUTOINCREMENT,
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
        SQLITE_AUTOINCREMENT,
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
        SQLITE_AUTOINCREMENT,
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
        SQLITE_AUTOINCREMENT,
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


class NonMatchRow(Base):
    """A face an operator dismissed as not this person: a sighting template that, for this
    person, must not alert again. Expires with the templates' retention, counted from
    `seen_at` as for the sighting template it copies."""

    __tablename__ = "non_matches"
    __table_args__ = (
        CheckConstraint("length(vector) = dim * 4", name="vector_length"),
        SQLITE_AUTOINCREMENT,
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


class OrderRow(Base):
    """A stay-at-home order: one person, a permitted area, a window, its legal reference."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(one_of("status", ORDER_STATUSES), name="status"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        SQLITE_AUTOINCREMENT,
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
