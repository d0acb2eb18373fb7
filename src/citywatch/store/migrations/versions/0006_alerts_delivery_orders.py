"""Alerts people can trust: lifecycle fields and severity, remembered non-matches, the
delivery outbox, stay-at-home orders and the notes (notice, appeal) recorded on alerts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "watchlists", sa.Column("severity", sa.String(length=10), server_default="medium", nullable=False)
    )
    op.add_column("alerts", sa.Column("kind", sa.String(length=20), server_default="match", nullable=False))
    op.add_column(
        "alerts", sa.Column("severity", sa.String(length=10), server_default="medium", nullable=False)
    )
    op.add_column("alerts", sa.Column("order_id", sa.Integer(), nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_by", sa.String(length=200), nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_at", sa.DateTime(), nullable=True))
    op.add_column("alerts", sa.Column("decided_by", sa.String(length=200), nullable=True))
    op.add_column("alerts", sa.Column("decided_at", sa.DateTime(), nullable=True))
    op.add_column("alerts", sa.Column("dismiss_reason", sa.Text(), nullable=True))
    op.create_index(op.f("ix_alerts_order_id"), "alerts", ["order_id"], unique=False)
    op.create_table(
        "non_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("length(vector) = dim * 4", name=op.f("ck_non_matches_vector_length")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_non_matches_person_id_persons"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_non_matches_alert_id_alerts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_non_matches")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_non_matches_person_id"), "non_matches", ["person_id"], unique=False)
    op.create_index(op.f("ix_non_matches_created_at"), "non_matches", ["created_at"], unique=False)
    op.create_index(op.f("ix_non_matches_seen_at"), "non_matches", ["seen_at"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("sink", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name=op.f("ck_outbox_status")),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_outbox_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_outbox_alert_id"), "outbox", ["alert_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("person_name", sa.String(length=200), nullable=False),
        sa.Column("legal_reference", sa.String(length=200), nullable=False),
        sa.Column("issuing_authority", sa.String(length=200), nullable=False),
        sa.Column("area", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_by", sa.String(length=200), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'ended', 'revoked')", name=op.f("ck_orders_status")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_orders_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_orders_person_id_persons"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_orders_person_id"), "orders", ["person_id"], unique=False)
    op.create_index(op.f("ix_orders_status"), "orders", ["status"], unique=False)
    op.create_table(
        "alert_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('notice', 'appeal', 'appeal_outcome')", name=op.f("ck_alert_notes_kind")
        ),
        sa.CheckConstraint("length(trim(text)) > 0", name=op.f("ck_alert_notes_text_not_blank")),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_notes_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notes")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_alert_notes_alert_id"), "alert_notes", ["alert_id"], unique=False)


def downgrade() -> None:
    op.drop_table("alert_notes")
    op.drop_table("orders")
    op.drop_table("outbox")
    op.drop_table("non_matches")
    for column in (
        "dismiss_reason",
        "decided_at",
        "decided_by",
        "acknowledged_at",
        "acknowledged_by",
        "order_id",
        "severity",
        "kind",
    ):
        op.drop_column("alerts", column)
    op.drop_column("watchlists", "severity")
