"""The migrations build exactly the schema the models declare, and opening migrates safely."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from citywatch.domain.errors import InvalidInput
from citywatch.store.db import open_database
from citywatch.store.schema import metadata
from tests.store.helpers import db_url

TABLES = {
    "cameras",
    "camera_fences",
    "watchlists",
    "persons",
    "reference_images",
    "templates",
    "sightings",
    "alerts",
    "audit_records",
    "audit_checkpoints",
    "audit_anchors",
    "non_matches",
    "outbox",
    "orders",
    "alert_notes",
    "zones",
    "events",
    "policy_rules",
    "authorisations",
    "users",
    "api_tokens",
    "changes",
    "alert_confirmations",
    "recordings",
    "holds",
    "receipts",
    "requests",
    "exports",
}


def test_migration_creates_every_table(tmp_path: Path) -> None:
    db = open_database(db_url(tmp_path / "a.db"))
    try:
        names = set(inspect(db.engine).get_table_names())
    finally:
        db.close()
    assert names == TABLES | {"alembic_version"}


def test_migrated_schema_equals_models_per_autogenerate(tmp_path: Path) -> None:
    db = open_database(db_url(tmp_path / "a.db"))
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, metadata)
    finally:
        db.close()
    assert diffs == []


def _describe(engine: Engine) -> dict[str, Any]:
    """What autogenerate does not compare: check constraints, ON DELETE, autoincrement."""
    insp = inspect(engine)
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for table in sorted(TABLES):
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).scalar_one()
            out[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                    for c in insp.get_columns(table)
                ],
                "pk": insp.get_pk_constraint(table),
                "fks": sorted(
                    (
                        fk["name"],
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        fk["options"].get("ondelete"),
                    )
                    for fk in insp.get_foreign_keys(table)
                ),
                "checks": sorted(
                    (ck["name"], " ".join(ck["sqltext"].split())) for ck in insp.get_check_constraints(table)
                ),
                "indexes": sorted(
                    (ix["name"], tuple(ix["column_names"]), ix["unique"]) for ix in insp.get_indexes(table)
                ),
                "uniques": sorted(
                    (uq["name"], tuple(uq["column_names"])) for uq in insp.get_unique_constraints(table)
                ),
                "autoincrement": "AUTOINCREMENT" in sql,
            }
    return out


@pytest.mark.sqlite
def test_migrated_schema_equals_models_in_detail(tmp_path: Path) -> None:
    db = open_database(db_url(tmp_path / "migrated.db"))
    created = create_engine(db_url(tmp_path / "created.db"))
    metadata.create_all(created)
    try:
        migrated, from_models = _describe(db.engine), _describe(created)
    finally:
        db.close()
        created.dispose()
    for table in sorted(TABLES):
        assert migrated[table] == from_models[table], table
    # ids are never reused; audit records number themselves (seq is part of the chain), fences
    # are keyed by their camera
    numbered = [t for n, t in migrated.items() if not n.startswith("audit_") and n != "camera_fences"]
    assert all(t["autoincrement"] for t in numbered)
    assert ("ck_reference_images_legal_basis_not_blank", "length(trim(legal_basis)) > 0") in migrated[
        "reference_images"
    ]["checks"]


@pytest.mark.parametrize(
    ("table", "column", "ondelete"),
    [
        ("persons", "watchlist_id", "RESTRICT"),
        ("reference_images", "person_id", "CASCADE"),
        ("templates", "person_id", "CASCADE"),
        ("templates", "reference_image_id", "CASCADE"),
        ("sightings", "person_id", "SET NULL"),
        ("sightings", "watchlist_id", "SET NULL"),
        ("alerts", "sighting_id", "CASCADE"),
        ("alerts", "person_id", "SET NULL"),
        ("alerts", "watchlist_id", "SET NULL"),
        ("outbox", "alert_id", "CASCADE"),
    ],
)
def test_foreign_keys_have_the_designed_on_delete(
    tmp_path: Path, table: str, column: str, ondelete: str
) -> None:
    db = open_database(db_url(tmp_path / "a.db"))
    try:
        fks = inspect(db.engine).get_foreign_keys(table)
    finally:
        db.close()
    (fk,) = [fk for fk in fks if fk["constrained_columns"] == [column]]
    assert fk["options"].get("ondelete") == ondelete


def test_reopening_keeps_the_data_and_the_revision(tmp_path: Path) -> None:
    url = db_url(tmp_path / "a.db")
    open_database(url).close()
    db = open_database(url)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == ["0010"]
    finally:
        db.close()


@pytest.mark.sqlite
def test_a_foreign_sqlite_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(
        InvalidInput, match=r"other\.db: not a citywatch database \(it holds other tables: invoices\)"
    ):
        open_database(db_url(path))
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"invoices"}


@pytest.mark.sqlite
def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    url = db_url(tmp_path / "a.db")
    open_database(url).close()
    with sqlite3.connect(tmp_path / "a.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(InvalidInput, match="cannot migrate the database schema"):
        open_database(url)
