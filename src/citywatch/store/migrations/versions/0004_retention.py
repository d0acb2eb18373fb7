"""Retention: footage segments, legal holds, deletion receipts, requests and exports.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requester", sa.String(length=200), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint("(starts_at IS NULL) = (ends_at IS NULL)", name=op.f("ck_holds_window_whole")),
        sa.CheckConstraint("length(trim(reason)) > 0", name=op.f("ck_holds_reason_not_blank")),
        sa.CheckConstraint("length(trim(reference)) > 0", name=op.f("ck_holds_reference_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_holds_reference"), "holds", ["reference"], unique=False)
    op.create_table(
        "receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_receipts_at"), "receipts", ["at"], unique=False)
    op.create_index(op.f("ix_receipts_kind"), "receipts", ["kind"], unique=False)
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("ended_at >= started_at", name=op.f("ck_recordings_ends_after_start")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_recordings_size_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("path", name=op.f("uq_recordings_path")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_recordings_camera_id_started_at", "recordings", ["camera_id", "started_at"], unique=False
    )
    op.create_index(op.f("ix_recordings_day"), "recordings", ["day"], unique=False)
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("requester", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=300), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("photo_path", sa.String(length=500), nullable=True),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("filed_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("hold_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('subject_access', 'law_enforcement')", name=op.f("ck_requests_kind")),
        sa.CheckConstraint(
            "status IN ('filed', 'in_review', 'approved', 'refused', 'fulfilled', 'closed')",
            name=op.f("ck_requests_status"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_requests_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["holds.id"], name=op.f("fk_requests_hold_id_holds"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_requests_status"), "requests", ["status"], unique=False)
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_exports_request_id_requests"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
        sa.UniqueConstraint("path", name=op.f("uq_exports_path")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_exports_created_at"), "exports", ["created_at"], unique=False)
    op.create_index(op.f("ix_exports_request_id"), "exports", ["request_id"], unique=False)


def downgrade() -> None:
    for table in ("exports", "requests", "receipts", "holds", "recordings"):
        op.drop_table(table)
