"""Audit filters: indexes on the audit log's actor, object and time, so that the console's
filters read a page of matches rather than walk the whole log (the action had one already).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("actor", "object", "at")


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(op.f(f"ix_audit_records_{column}"), "audit_records", [column])


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(op.f(f"ix_audit_records_{column}"), table_name="audit_records")
