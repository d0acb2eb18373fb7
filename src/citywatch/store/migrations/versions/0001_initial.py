"""Initial schema: watchlists, persons, reference images, templates, sightings, alerts.

Written by hand to match the tables of citywatch/store/ (store.schema gathers them);
tests/store compares the two.
Names are wrapped in op.f(): they are final, the naming convention must not apply again.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTOINCREMENT = {"sqlite_autoincrement": True}


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "watchlists",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("margin", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlists")),
        sa.UniqueConstraint("name", name=op.f("uq_watchlists_name")),
        sa.CheckConstraint(
            "category IN ('wanted', 'missing', 'stay_at_home', 'other')", name=op.f("ck_watchlists_category")
        ),
        sa.CheckConstraint("length(trim(name)) > 0", name=op.f("ck_watchlists_name_not_blank")),
        **AUTOINCREMENT,
    )

    op.create_table(
        "persons",
        _id(),
        sa.Column("watchlist_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlists.id"],
            name=op.f("fk_persons_watchlist_id_watchlists"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("length(trim(display_name)) > 0", name=op.f("ck_persons_display_name_not_blank")),
        **AUTOINCREMENT,
    )
    op.create_index(op.f("ix_persons_watchlist_id"), "persons", ["watchlist_id"])

    op.create_table(
        "reference_images",
        _id(),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("blob_path", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_images")),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_reference_images_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("length(trim(source)) > 0", name=op.f("ck_reference_images_source_not_blank")),
        sa.CheckConstraint(
            "length(trim(legal_basis)) > 0", name=op.f("ck_reference_images_legal_basis_not_blank")
        ),
        **AUTOINCREMENT,
    )
    op.create_index(op.f("ix_reference_images_person_id"), "reference_images", ["person_id"])

    op.create_table(
        "templates",
        _id(),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("reference_image_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_templates_person_id_persons"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reference_image_id"],
            ["reference_images.id"],
            name=op.f("fk_templates_reference_image_id_reference_images"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("dim > 0", name=op.f("ck_templates_dim_positive")),
        sa.CheckConstraint("length(vector) = dim * 4", name=op.f("ck_templates_vector_length")),
        **AUTOINCREMENT,
    )
    op.create_index(op.f("ix_templates_person_id"), "templates", ["person_id"])
    op.create_index(op.f("ix_templates_reference_image_id"), "templates", ["reference_image_id"])
    op.create_index(op.f("ix_templates_model"), "templates", ["model"])

    op.create_table(
        "sightings",
        _id(),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.Column("detections", sa.Integer(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("crop_path", sa.String(500), nullable=False),
        sa.Column("crop_sha256", sa.String(64), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("template", sa.LargeBinary(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("person_name", sa.String(200), nullable=True),
        sa.Column("watchlist_id", sa.Integer(), nullable=True),
        sa.Column("distance", sa.Float(), nullable=True),
        sa.Column("margin", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_sightings_person_id_persons"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlists.id"],
            name=op.f("fk_sightings_watchlist_id_watchlists"),
            ondelete="SET NULL",
        ),
        sa.CheckConstraint("ended_at >= started_at", name=op.f("ck_sightings_ends_after_start")),
        **AUTOINCREMENT,
    )
    op.create_index(op.f("ix_sightings_camera_id"), "sightings", ["camera_id"])
    op.create_index(op.f("ix_sightings_day"), "sightings", ["day"])
    op.create_index(op.f("ix_sightings_started_at"), "sightings", ["started_at"])
    op.create_index(op.f("ix_sightings_camera_id_started_at"), "sightings", ["camera_id", "started_at"])
    op.create_index(op.f("ix_sightings_person_id"), "sightings", ["person_id"])
    op.create_index(op.f("ix_sightings_watchlist_id"), "sightings", ["watchlist_id"])

    op.create_table(
        "alerts",
        _id(),
        sa.Column("sighting_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("person_name", sa.String(200), nullable=False),
        sa.Column("watchlist_id", sa.Integer(), nullable=True),
        sa.Column("watchlist_name", sa.String(200), nullable=False),
        sa.Column("distance", sa.Float(), nullable=False),
        sa.Column("status", sa.String(20), server_default="new", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.ForeignKeyConstraint(
            ["sighting_id"],
            ["sightings.id"],
            name=op.f("fk_alerts_sighting_id_sightings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_alerts_person_id_persons"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlists.id"],
            name=op.f("fk_alerts_watchlist_id_watchlists"),
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "status IN ('new', 'acknowledged', 'confirmed', 'dismissed')", name=op.f("ck_alerts_status")
        ),
        **AUTOINCREMENT,
    )
    op.create_index(op.f("ix_alerts_sighting_id"), "alerts", ["sighting_id"])
    op.create_index(op.f("ix_alerts_person_id"), "alerts", ["person_id"])
    op.create_index(op.f("ix_alerts_watchlist_id"), "alerts", ["watchlist_id"])
    op.create_index(op.f("ix_alerts_status"), "alerts", ["status"])


def downgrade() -> None:
    for table in ("alerts", "sightings", "templates", "reference_images", "persons", "watchlists"):
        op.drop_table(table)
