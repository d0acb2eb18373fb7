"""Store benchmark helpers: what they write is really there, and the case scope is honoured."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from citywatch.bench.store import DAY0, batch_write_rate, case_search, fill, plant, write_rate
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.db import open_database
from citywatch.store.sighting_tables import Sighting
from tests.fakes.stores import Stores


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Stores]:
    meta = Stores(open_database(f"sqlite:///{tmp_path / 'db.sqlite'}"), LocalBlobStore(tmp_path / "blobs"))
    yield meta
    meta.close()


def test_writes_and_case_search(store: Stores) -> None:
    assert write_rate(store.sightings, 10, b"\xff\xd8 jpeg \xff\xd9", dim=8) > 0
    fill(store.db, 3000, cameras=10, days=2, dim=8)
    assert store.sightings.count_sightings() == 3010
    since = DAY0 + timedelta(hours=6)
    until = since + timedelta(hours=12)
    cams = ["cam-0000", "cam-0001"]
    probes = np.random.default_rng(5).normal(0, 0.9 / np.sqrt(16), (4, 8)).astype(np.float32)
    plant(store.sightings, probes, camera="cam-0000", at=since + timedelta(hours=1))
    seconds, candidates, hits = case_search(store.sightings, probes, cameras=cams, since=since, until=until)
    with store.db.session(write=False) as s:
        expected = s.scalar(
            select(func.count())
            .select_from(Sighting)
            .where(Sighting.camera_id.in_(cams), Sighting.ended_at >= since, Sighting.started_at <= until)
        )
    assert candidates == expected and 50 < candidates < 1000  # about 2/10 cameras x 1/4 of the time
    assert seconds > 0
    assert hits >= 3  # each probe's three planted sightings are found


def test_batched_writes_store_each_sighting_once_under_its_key(store: Stores) -> None:
    assert batch_write_rate(store.sightings, 25, 10, b"\xff\xd8 jpeg \xff\xd9", dim=8) > 0
    with store.db.session(write=False) as s:
        keys = set(s.scalars(select(Sighting.source_key)))
    assert keys == {f"write-test:1:0:{i}" for i in range(25)}  # three batches, the last of 5
