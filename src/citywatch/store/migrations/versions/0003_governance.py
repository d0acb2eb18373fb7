"""Governance: zones, events, policy rules, authorisations, users and tokens, two-person
changes and alert confirmations; watchlists and sightings name their authorisation,
persons carry their approval status.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authorisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=False),
        sa.Column("zones", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("approval_deadline", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'refused', 'revoked')", name=op.f("ck_authorisations_status")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_authorisations_ends_after_start")),
        sa.CheckConstraint("length(trim(issuer)) > 0", name=op.f("ck_authorisations_issuer_not_blank")),
        sa.CheckConstraint(
            "length(trim(legal_basis)) > 0", name=op.f("ck_authorisations_legal_basis_not_blank")
        ),
        sa.CheckConstraint("length(trim(objective)) > 0", name=op.f("ck_authorisations_objective_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorisations")),
        sa.UniqueConstraint("reference", name=op.f("uq_authorisations_reference")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_authorisations_status"), "authorisations", ["status"], unique=False)
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("object", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("proposed_by", sa.String(length=200), nullable=False),
        sa.Column("proposed_role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'applied', 'refused')", name=op.f("ck_changes_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_changes_status"), "changes", ["status"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'supervisor', 'operator', 'investigator', 'auditor')",
            name=op.f("ck_users_role"),
        ),
        sa.CheckConstraint("length(trim(name)) > 0", name=op.f("ck_users_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("polygon", sa.Text(), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("length(trim(name)) > 0", name=op.f("ck_zones_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
        sa.UniqueConstraint("name", name=op.f("uq_zones_name")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("service", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_events_ends_after_start")),
        sa.CheckConstraint("length(trim(name)) > 0", name=op.f("ck_events_name_not_blank")),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_events_zone_id_zones"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("name", name=op.f("uq_events_name")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_events_zone_id"), "events", ["zone_id"], unique=False)
    op.create_table(
        "policy_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "mode IN ('off', 'record', 'detect', 'watchlist', 'investigate')",
            name=op.f("ck_policy_rules_mode"),
        ),
        sa.CheckConstraint(
            "(camera_id IS NULL) != (zone_id IS NULL)", name=op.f("ck_policy_rules_camera_or_zone")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_policy_rules_zone_id_zones"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_rules")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_policy_rules_camera_id"), "policy_rules", ["camera_id"], unique=False)
    op.create_index(op.f("ix_policy_rules_zone_id"), "policy_rules", ["zone_id"], unique=False)
    op.create_table(
        "alert_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_confirmations_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_confirmations")),
        sa.UniqueConstraint("alert_id", "actor", name=op.f("uq_alert_confirmations_alert_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_alert_confirmations_alert_id"), "alert_confirmations", ["alert_id"], unique=False
    )
    op.add_column(
        "persons", sa.Column("status", sa.String(length=20), server_default="active", nullable=False)
    )
    op.add_column(
        "persons", sa.Column("proposed_by", sa.String(length=200), server_default="", nullable=False)
    )
    op.add_column(
        "persons", sa.Column("approved_by", sa.String(length=200), server_default="", nullable=False)
    )
    op.add_column("sightings", sa.Column("authorisation_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_sightings_authorisation_id"), "sightings", ["authorisation_id"], unique=False)
    op.add_column("watchlists", sa.Column("authorisation_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_watchlists_authorisation_id"), "watchlists", ["authorisation_id"], unique=False)


def downgrade() -> None:
    for index, table in (
        ("ix_watchlists_authorisation_id", "watchlists"),
        ("ix_sightings_authorisation_id", "sightings"),
    ):
        op.drop_index(op.f(index), table_name=table)
    op.drop_column("watchlists", "authorisation_id")
    op.drop_column("sightings", "authorisation_id")
    for column in ("approved_by", "proposed_by", "status"):
        op.drop_column("persons", column)
    for table in (
        "alert_confirmations",
        "policy_rules",
        "events",
        "api_tokens",
        "zones",
        "users",
        "changes",
        "authorisations",
    ):
        op.drop_table(table)
