"""A writer killed with SIGKILL at any moment leaves whole sightings (row + crop) or orphan crops only."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from citywatch.store.blobs import LocalBlobStore
from citywatch.store.db import open_database
from citywatch.store.sighting_tables import Alert, Sighting
from tests.fakes.stores import Stores
from tests.store.helpers import JPEG_STUB, MODEL, db_url, vector

WRITER = Path(__file__).with_name("crash_writer.py")
ROUNDS = 6

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def _run_and_kill(db_path: Path, blob_root: Path, person_id: int, watchlist_id: int, seed: int) -> int:
    """Start the writer, let it commit a few sightings, kill it; returns the last count it reported.

    The writer reports after each commit, so the store must hold that many of its sightings,
    plus at most the one it was committing when killed.
    """
    rnd = random.Random(seed)
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(db_path), str(blob_root), str(person_id), str(watchlist_id)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    target = rnd.randint(3, 30)
    reported = 0
    try:
        for line in proc.stdout:
            reported = int(line)
            if reported >= target:
                break
        else:
            raise AssertionError(f"writer ended early: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(rnd.uniform(0, 0.02))  # land somewhere inside a later sighting
        os.kill(proc.pid, signal.SIGKILL)
        for line in proc.stdout:  # commits reported before the kill but not read yet
            reported = int(line)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return reported


def _check(db_path: Path, blob_root: Path, committed_before: int, reported: int) -> int:
    store = Stores(open_database(db_url(db_path)), LocalBlobStore(blob_root))
    try:
        with store.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalars().all() == ["ok"]
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        with store.db.session(write=False) as session:
            rows = session.execute(select(Sighting.id, Sighting.crop_path, Sighting.crop_sha256)).all()
            alerts = session.execute(select(Alert.sighting_id)).scalars().all()
            matched = session.execute(select(Sighting.id).where(Sighting.decision == "match")).scalars().all()
        # Every reported commit survived, and at most the one in flight was added after it.
        assert committed_before + reported <= len(rows) <= committed_before + reported + 1
        for sighting_id, crop_path, crop_sha256 in rows:
            data = store.blobs.read(crop_path)
            assert hashlib.sha256(data).hexdigest() == crop_sha256, sighting_id
        assert sorted(alerts) == sorted(matched)  # an alert exactly for each matched sighting
        referenced = {path for _id, path, _sha in rows}
        assert len(store.blobs.orphans(referenced, folder="crops")) <= 1
        store.sightings.clean_orphan_crops(older_than_s=0)
        assert store.blobs.orphans(referenced, folder="crops") == []
        return len(rows)
    finally:
        store.close()


@pytest.mark.sqlite
def test_sigkill_mid_write_leaves_a_consistent_store(tmp_path: Path) -> None:
    db_path = tmp_path / "citywatch.db"
    blob_root = tmp_path / "blobs"
    store = Stores(open_database(db_url(db_path)), LocalBlobStore(blob_root))
    watchlist = store.watchlists.create_watchlist("wanted")
    person = store.watchlists.add_person("wanted", "Ann")
    store.watchlists.add_reference(person.id, JPEG_STUB, ".jpg", "src", "basis", MODEL, vector(1))
    store.close()
    committed = 0
    for round_ in range(ROUNDS):
        reported = _run_and_kill(db_path, blob_root, person.id, watchlist.id, seed=round_)
        committed = _check(db_path, blob_root, committed, reported)
    assert committed >= ROUNDS * 3
