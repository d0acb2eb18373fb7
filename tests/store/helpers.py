"""Builders for store tests: vectors, match results and sighting records."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from citywatch.domain.matching import Candidate, MatchDecision, MatchResult
from citywatch.domain.records import SightingRecord

MODEL = "test-model"
DIM = 8
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def db_url(path: Path) -> str:
    """The test's metadata database: SQLite at `path`, or under CITYWATCH_TEST_DATABASE=postgresql
    the fresh PostgreSQL database the test was given (tests/conftest.py)."""
    return os.environ.get("CITYWATCH_DATABASE_URL") or f"sqlite:///{path}"


def vector(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def no_match() -> MatchResult:
    return MatchResult(
        decision=MatchDecision.UNKNOWN_NO_GALLERY,
        best=None,
        runner_up=None,
        threshold=0.55,
        margin_required=0.04,
    )


def a_match(
    person_id: int, watchlist_id: int, *, person_name: str = "Ann", watchlist_name: str = "wanted"
) -> MatchResult:
    best = Candidate(person_id, person_name, watchlist_id, watchlist_name, 0.31)
    runner_up = Candidate(person_id + 1000, "Other", watchlist_id, watchlist_name, 0.52)
    return MatchResult(
        decision=MatchDecision.MATCH, best=best, runner_up=runner_up, threshold=0.55, margin_required=0.04
    )


def sighting(
    *,
    camera_id: str = "cam-1",
    start: datetime = T0,
    duration_s: float = 3.0,
    match: MatchResult | None = None,
    template: np.ndarray | None = None,
    crop: bytes = b"\xff\xd8 fake jpeg \xff\xd9",
    track_id: int = 1,
) -> SightingRecord:
    return SightingRecord(
        camera_id=camera_id,
        track_id=track_id,
        started_at=start,
        ended_at=start + timedelta(seconds=duration_s),
        detections=5,
        quality=0.8,
        crop_jpeg=crop,
        model=MODEL,
        template=template,
        match=match or no_match(),
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


JPEG_STUB = b"\xff\xd8 reference photo \xff\xd9"


class Clock:
    """A settable clock for stores that take one."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
