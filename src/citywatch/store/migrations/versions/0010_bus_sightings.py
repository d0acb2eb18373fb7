"""Sightings over the bus: each one's source key (stored once however often delivered) and
each camera's highest lease token (writes under a lower one are refused: fencing).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sightings", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("source_key", sa.String(length=200), nullable=True))
        batch.create_unique_constraint(batch.f("uq_sightings_source_key"), ["source_key"])
    op.create_table(
        "camera_fences",
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name=op.f("pk_camera_fences")),
    )


def downgrade() -> None:
    op.drop_table("camera_fences")
    with op.batch_alter_table("sightings", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(batch.f("uq_sightings_source_key"), type_="unique")
        batch.drop_column("source_key")
