"""Adds sightings in a loop until killed; prints the count after each commit.

Run by test_store_crash.py as `python crash_writer.py DB_PATH BLOB_ROOT PERSON_ID WATCHLIST_ID`.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from citywatch.domain.matching import Candidate, MatchDecision, MatchResult
from citywatch.domain.records import SightingRecord
from citywatch.sightings.store import SightingStore
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.db import open_database


def main() -> None:
    db_path, blob_root, person_id, watchlist_id = (
        sys.argv[1],
        Path(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    sightings = SightingStore(open_database(f"sqlite:///{db_path}"), LocalBlobStore(blob_root))
    rng = np.random.default_rng(os.getpid())
    start = datetime(2026, 3, 1, tzinfo=UTC)
    matched = Candidate(person_id, "Ann", watchlist_id, "wanted", 0.3)
    for i in range(1_000_000):
        is_match = i % 2 == 0
        match = MatchResult(
            decision=MatchDecision.MATCH if is_match else MatchDecision.UNKNOWN_DISTANCE,
            best=matched if is_match else Candidate(person_id, "Ann", watchlist_id, "wanted", 0.9),
            runner_up=None,
            threshold=0.55,
            margin_required=0.04,
        )
        at = start + timedelta(hours=i % 72, seconds=i)
        sightings.add_sighting(
            SightingRecord(
                camera_id=f"cam-{i % 3}",
                track_id=i,
                started_at=at,
                ended_at=at + timedelta(seconds=2),
                detections=3,
                quality=0.7,
                crop_jpeg=rng.bytes(int(rng.integers(2_000, 60_000))),
                model="test-model",
                template=rng.normal(size=128).astype(np.float32),
                match=match,
            )
        )
        sys.stdout.write(f"{i + 1}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
