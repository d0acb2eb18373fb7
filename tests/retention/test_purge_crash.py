"""SIGKILL at several points inside a purge, then a normal purge: the store is consistent
(integrity ok, no row without its file, no file without its row, nothing expired left)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime
from tests.databases import integrity_ok, metadata_sql, own_database
from tests.store.helpers import sighting, vector

RUNNER = Path(__file__).with_name("purge_runner.py")
OLD = datetime.now(UTC) - timedelta(days=30)
ROWS = 400


def seed(data: Path) -> None:
    rt = Runtime(Settings(data_dir=data))
    for i in range(ROWS):
        rt.sightings.add_sighting(sighting(start=OLD + timedelta(minutes=i), template=vector(i), track_id=i))
    rt.sightings.add_sighting(sighting(start=datetime.now(UTC), track_id=ROWS))  # one that stays
    rt.close()
    past = time.time() - 3600  # older than the orphan grace period
    for p in data.rglob("*.jpg"):
        os.utime(p, (past, past))


def kill_during_purge(data: Path, delay_s: float) -> str:
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), str(data)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay_s)
    proc.kill()
    proc.wait()
    return proc.stdout.read()


def consistent(data: Path) -> tuple[int, int]:
    db = metadata_sql(data)
    try:
        assert integrity_ok(db)
        rows = {Path(p).name for (p,) in db.execute("select crop_path from sightings")}
        receipts = db.execute("select count(*) from receipts where kind = 'purge'").fetchone()[0]
        audited = db.execute("select count(*) from audit_records where action = 'receipt.purge'").fetchone()[
            0
        ]
    finally:
        db.close()
    files = {p.name for p in (data / "blobs/crops").rglob("*.jpg")}
    assert rows <= files, f"rows without their crop: {sorted(rows - files)[:3]}"
    assert receipts == audited  # a receipt and its audit record commit together
    return len(rows), len(files - rows)


def test_sigkill_inside_a_purge_then_a_normal_purge(tmp_path: Path) -> None:
    rng = random.Random(7)
    delays = [0.0, 0.005, 0.02, 0.05, 1.0] + [rng.uniform(0, 0.3) for _ in range(4)]
    outcomes = set()
    for i, delay in enumerate(delays):
        data = tmp_path / f"run{i}"
        with own_database():  # each round from an empty store
            seed(data)
            printed = kill_during_purge(data, delay)
            rows, orphans = consistent(data)
            assert rows in {1, ROWS + 1}, "the purge's rows go all together or not at all"
            outcomes.add((rows == 1, orphans > 0, "done" in printed))
            rt = Runtime(Settings(data_dir=data))
            rt.purge()  # the normal purge: finishes what was interrupted
            rt.close()
            assert consistent(data) == (1, 0)
    # killed before the commit (nothing changed) and after it (files left to clean) both happened
    assert {committed for committed, _, _ in outcomes} == {False, True}, outcomes
