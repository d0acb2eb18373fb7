"""Physical deletion on PostgreSQL: after a purge, no byte of a purged sighting is left in the
pages of its table, its TOAST table or any of its indexes (read raw through `pageinspect`).
A plain `VACUUM` would leave them in the pages' free space; the purge rewrites what it
touched (`Database.checkpoint`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from citywatch.config.pipeline import RetentionSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.retention.holds import HoldService
from citywatch.runtime.build import Runtime
from tests.databases import on_postgresql
from tests.store.helpers import T0, Clock, sighting

pytestmark = pytest.mark.skipif(
    not on_postgresql(), reason="about PostgreSQL's pages; SQLite zeroes (secure_delete)"
)

DAY = timedelta(days=1)
SYSTEM = Actor("citywatch@system", "system", service=True)
TEMPLATE_CANARY = b"CANARY-PG-TEMPL!"  # 16 bytes: four float32s
CAMERA_CANARY = "canary-pg-camera"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


def relations(conn: psycopg.Connection[tuple[object, ...]], table: str) -> list[str]:
    """The table, its TOAST table and its indexes."""
    rows = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c WHERE c.oid = %s::regclass "
        "OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = %s::regclass) "
        "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = %s::regclass)",
        (table, table, table),
    ).fetchall()
    return [str(r[0]) for r in rows]


def pages_holding(conn: psycopg.Connection[tuple[object, ...]], table: str, needle: bytes) -> list[str]:
    """`relation:block` of every page (heap, TOAST, index; a btree's meta page aside) whose raw
    bytes hold `needle`."""
    found = []
    for relation in relations(conn, table):
        blocks = int(conn.execute("SELECT pg_relation_size(%s) / 8192", (relation,)).fetchone()[0])  # type: ignore[index]
        for block in range(blocks):
            page = conn.execute("SELECT get_raw_page(%s, %s)", (relation, block)).fetchone()[0]  # type: ignore[index]
            if needle in bytes(page):  # type: ignore[arg-type]
                found.append(f"{relation}:{block}")
    return found


def settle(rt: Runtime, within_s: float = 60.0) -> None:
    """Rewrite again until no deleted row is left for a later checkpoint (as the next purge
    round would)."""
    deadline = time.monotonic() + within_s
    while rt.database.unerased and time.monotonic() < deadline:
        time.sleep(0.5)
        rt.database.checkpoint(erase=())
    assert rt.database.unerased == frozenset()


def purge(rt: Runtime) -> HoldService:
    return HoldService(
        rt.database,
        policy=RetentionSettings().policy(),
        clock=Clock(T0 + 6 * DAY),
        audit=rt._audit_as,
        remove_file=rt._remove_file,
    )


def test_a_purged_sighting_leaves_no_bytes_in_table_toast_or_index_pages(rt: Runtime) -> None:
    url = os.environ["CITYWATCH_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    template = np.frombuffer(TEMPLATE_CANARY * 2, dtype="<f4").astype(np.float32)
    for n in range(30):  # neighbours on the same pages, which stay
        rt.sightings.add_sighting(sighting(camera_id=f"kept-{n}", start=T0 + 9 * DAY))
    # Last in, so lowest in its page: a plain VACUUM's compaction would not overwrite it.
    rt.sightings.add_sighting(sighting(camera_id=CAMERA_CANARY, template=template))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        conn.execute("CHECKPOINT")  # the pages reach the files get_raw_page reads through
        assert pages_holding(conn, "sightings", TEMPLATE_CANARY)  # the scan sees what is there
        assert pages_holding(conn, "sightings", CAMERA_CANARY.encode())

        holds = purge(rt)
        receipt = holds.purger.purge(by=SYSTEM)
        assert receipt is not None and receipt.counts["sightings"] == 1
        settle(rt)  # another test's old snapshot on this server may have kept it for a moment

        assert pages_holding(conn, "sightings", TEMPLATE_CANARY) == []
        assert pages_holding(conn, "sightings", CAMERA_CANARY.encode()) == []
        kept = conn.execute("SELECT count(*) FROM sightings").fetchone()
        assert kept is not None and kept[0] == 30


def test_rows_an_older_snapshot_may_see_are_erased_by_the_next_round(rt: Runtime) -> None:
    url = os.environ["CITYWATCH_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    template = np.frombuffer(TEMPLATE_CANARY * 2, dtype="<f4").astype(np.float32)
    rt.sightings.add_sighting(sighting(camera_id="kept", start=T0 + 9 * DAY))
    rt.sightings.add_sighting(sighting(camera_id=CAMERA_CANARY, template=template))
    with psycopg.connect(url, autocommit=True) as conn, psycopg.connect(url) as reader:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT 1")  # a snapshot taken before the purge, still open
        holds = purge(rt)
        assert holds.purger.purge(by=SYSTEM) is not None
        assert "sightings" in rt.database.unerased  # the rewrite had to copy the dead row
        conn.execute("CHECKPOINT")
        assert pages_holding(conn, "sightings", TEMPLATE_CANARY)
        reader.rollback()
        assert holds.purger.purge(by=SYSTEM) is None  # nothing new is due; the rewrite is redone
        settle(rt)
        conn.execute("CHECKPOINT")
        assert pages_holding(conn, "sightings", TEMPLATE_CANARY) == []


def test_a_rewrite_never_waits_long_behind_a_reader(rt: Runtime) -> None:
    url = os.environ["CITYWATCH_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    rt.sightings.add_sighting(sighting(camera_id=CAMERA_CANARY))
    with psycopg.connect(url) as reader:
        reader.execute("SELECT count(*) FROM sightings")  # holds the table's lock until it ends
        started = time.monotonic()
        assert purge(rt).purger.purge(by=SYSTEM) is not None
        assert time.monotonic() - started < 30  # the lock wait gave up (5 s), nothing hung
        assert "sightings" in rt.database.unerased
        reader.rollback()
    settle(rt)
