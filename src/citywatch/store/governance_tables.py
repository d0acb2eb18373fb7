"""The governance tables: zones, events, camera policy, authorisations, accounts and two-person changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citywatch.domain.access import ACCOUNT_ROLES
from citywatch.store.base import SQLITE_AUTOINCREMENT, Base, one_of

AUTHORISATION_STATUSES = ("pending", "approved", "refused", "revoked")
MODES = ("off", "record", "detect", "watchlist", "investigate")
CHANGE_STATUSES = ("pending", "applied", "refused")


class ZoneRow(Base):
    """A named area: polygon (JSON list of [lat, lon]) and/or cameras named outright (JSON)."""

    __tablename__ = "zones"
    __table_args__ = (CheckConstraint("length(trim(name)) > 0", name="name_not_blank"), SQLITE_AUTOINCREMENT)

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
        SQLITE_AUTOINCREMENT,
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
        CheckConstraint(one_of("mode", MODES), name="mode"),
        CheckConstraint("(camera_id IS NULL) != (zone_id IS NULL)", name="camera_or_zone"),
        SQLITE_AUTOINCREMENT,
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
        CheckConstraint(one_of("status", AUTHORISATION_STATUSES), name="status"),
        CheckConstraint("length(trim(legal_basis)) > 0", name="legal_basis_not_blank"),
        CheckConstraint("length(trim(objective)) > 0", name="objective_not_blank"),
        CheckConstraint("length(trim(issuer)) > 0", name="issuer_not_blank"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        SQLITE_AUTOINCREMENT,
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
        CheckConstraint(one_of("role", ACCOUNT_ROLES), name="role"),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
        SQLITE_AUTOINCREMENT,
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
    __table_args__ = (SQLITE_AUTOINCREMENT,)

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
    __table_args__ = (CheckConstraint(one_of("status", CHANGE_STATUSES), name="status"), SQLITE_AUTOINCREMENT)

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
