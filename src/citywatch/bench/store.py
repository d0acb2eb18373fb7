"""Store benchmarks: sightings written per second (crop file + transaction, one at a time as
the pipeline writes them, or in batches as the store consumer does) and case search among
many stored sightings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import insert

from citywatch.bench.progress import Progress, quiet
from citywatch.domain.errors import CitywatchError
from citywatch.domain.matching import MatchDecision, MatchResult
from citywatch.domain.records import SightingOrigin, SightingRecord
from citywatch.search.photo import rank
from citywatch.sightings.store import SightingStore
from citywatch.store import vectors
from citywatch.store.db import Database
from citywatch.store.sighting_tables import Sighting

MODEL = "bench-model"
DAY0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StoreSpeed:
    written: int
    sightings_per_s: float
    stored_total: int
    fill_s: float
    case_cameras: int
    case_hours: float
    case_candidates: int
    case_search_s: float
    case_hits: float
    """Median sightings found per probe (each probe's face was planted 3 times in scope)."""


def write_rate(sightings: SightingStore, n: int, crop_jpeg: bytes, dim: int, seed: int = 0) -> float:
    """Sightings per second through `add_sighting`: crop file fsynced, then one transaction."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    for i in range(n):
        sightings.add_sighting(_sighting(i, crop_jpeg, rng.normal(0, 0.09, dim).astype(np.float32)))
    return n / (time.perf_counter() - started)


def batch_write_rate(
    sightings: SightingStore, n: int, batch: int, crop_jpeg: bytes, dim: int, *, token: int = 1, seed: int = 0
) -> float:
    """Sightings per second through `add_sightings`, as the store consumer writes what it
    fetched from the bus: `batch` at a time, each with its origin (a source key, the lease
    token `token` of its camera), the crops put side by side, one transaction per batch."""
    rng = np.random.default_rng(seed)
    items = [
        (
            _sighting(i, crop_jpeg, rng.normal(0, 0.09, dim).astype(np.float32)),
            SightingOrigin(key=f"write-test:{token}:{seed}:{i}", token=token),
        )
        for i in range(n)
    ]
    started = time.perf_counter()
    for first in range(0, n, batch):
        for outcome in sightings.add_sightings(items[first : first + batch]):
            if isinstance(outcome, CitywatchError):
                raise outcome
    return n / (time.perf_counter() - started)


def _sighting(i: int, crop_jpeg: bytes, template: np.ndarray) -> SightingRecord:
    """The `i`th sighting a write benchmark stores: one camera, one second apart, no match."""
    t = DAY0 + timedelta(seconds=i)
    unknown = MatchResult(MatchDecision.UNKNOWN_NO_GALLERY, None, None, 0.0, 0.0)
    return SightingRecord(
        "write-test", i, t, t + timedelta(seconds=2), 5, 0.8, crop_jpeg, MODEL, template, unknown
    )


def fill(
    db: Database,
    rows: int,
    *,
    cameras: int,
    days: int,
    dim: int,
    seed: int = 0,
    progress: Progress = quiet,
) -> float:
    """Bulk-insert `rows` synthetic sightings (random templates, no crop files) spread over
    `cameras` and `days`; returns the seconds it took."""
    rng = np.random.default_rng(seed)
    span_s = days * 86400
    started = time.perf_counter()
    chunk = 20_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        offsets = rng.integers(0, span_s, n)
        cams = rng.integers(0, cameras, n)
        templates = rng.normal(0, 0.09, (n, dim)).astype(np.float32)
        now = datetime.now(UTC)
        batch = []
        for k in range(n):
            t = DAY0 + timedelta(seconds=int(offsets[k]))
            batch.append(
                {
                    "camera_id": f"cam-{cams[k]:04d}",
                    "track_id": start + k,
                    "day": t.strftime("%Y-%m-%d"),
                    "started_at": t,
                    "ended_at": t + timedelta(seconds=3),
                    "detections": 5,
                    "quality": 0.7,
                    "crop_path": "crops/bench.jpg",
                    "crop_sha256": "0" * 64,
                    "model": MODEL,
                    "template": vectors.encode(templates[k]),
                    "decision": str(MatchDecision.UNKNOWN_NO_GALLERY),
                    "created_at": now,
                }
            )
        with db.session() as session:
            session.execute(insert(Sighting), batch)
        progress("filling the store", start + n, rows)
    return time.perf_counter() - started


def plant(
    sightings: SightingStore, probes: np.ndarray, *, camera: str, at: datetime, copies: int = 3, seed: int = 2
) -> None:
    """Store `copies` sightings of each probe's face (the probe plus a little noise) on `camera`
    at `at`, so a case search has something real to find."""
    rng = np.random.default_rng(seed)
    unknown = MatchResult(MatchDecision.UNKNOWN_NO_GALLERY, None, None, 0.0, 0.0)
    for probe in probes:
        for _ in range(copies):
            noisy = (probe + rng.normal(0, 0.3 / np.sqrt(2 * len(probe)), len(probe))).astype(np.float32)
            sightings.add_sighting(
                SightingRecord(
                    camera,
                    0,
                    at,
                    at + timedelta(seconds=2),
                    5,
                    0.8,
                    b"\xff\xd8\xff\xd9",
                    MODEL,
                    noisy,
                    unknown,
                )
            )


def case_search(
    sightings: SightingStore, probes: np.ndarray, *, cameras: list[str], since: datetime, until: datetime
) -> tuple[float, int, float]:
    """Median seconds to load the case's candidates and rank them, per probe; with the number
    of candidates and the median number of hits."""
    times, hits, candidates = [], [], 0
    for probe in probes:
        started = time.perf_counter()
        found = sightings.sightings_for_search(MODEL, cameras, since, until)
        ranked = rank(probe, found, threshold=0.6, limit=50)
        times.append(time.perf_counter() - started)
        hits.append(len(ranked))
        candidates = len(found)
    return float(np.median(times)), candidates, float(np.median(hits))
