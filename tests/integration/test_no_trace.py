"""Watchlist mode keeps nothing of a face that matches no one: the exact template and crop
bytes the pipeline computed for such faces are found nowhere on disk afterwards (database,
WAL, blob folders), while in investigate mode the same scan finds them (the scan works)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.matching import MatchResult, Template
from citywatch.domain.policy import AuthorisationStatus, ProcessingMode
from citywatch.governance.records import NewAuthorisation
from citywatch.match.index import WatchlistIndex
from citywatch.media.images import encode_jpeg
from citywatch.pipeline.camera import TrackOutcome
from citywatch.runtime.build import Runtime
from citywatch.store import vectors
from citywatch.watchlists.enrolment import Enrolment


@dataclass
class RecordingIndex:
    """Passes every probe to the real index and remembers it with its answer."""

    inner: WatchlistIndex
    probes: list[tuple[Template, MatchResult]] = field(default_factory=list)

    def match(self, probe: Template) -> MatchResult:
        result = self.inner.match(probe)
        self.probes.append((probe.copy(), result))
        return result


def disk_bytes(root: Path) -> bytes:
    """Every byte of every file under root (database, -wal, -shm, blobs, keys)."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


@dataclass
class Run:
    data_dir: Path
    probes: list[tuple[Template, MatchResult]]
    outcomes: list[TrackOutcome]
    while_open: bytes
    """Everything on disk while the database was still open (WAL and all)."""


def watch_hamilton(tmp: Path, shared_data: Path, mode: ProcessingMode) -> Run:
    ex = shared_data / "face_recognition/examples"
    data_dir = tmp / mode.value
    rt = Runtime(Settings(data_dir=data_dir, models_dir=shared_data / "models"))
    rt.actor = Actor("ann", "supervisor")
    try:
        # Only Alex Lacamoire is on the watchlist; the faces in the clip match no one.
        Enrolment(
            store=rt.watchlists, detector=rt.detector, embedder=rt.embedder, quality=rt.settings.quality
        ).enroll(
            name="Alex Lacamoire",
            images=[ex / "alex-lacamoire.png"],
            watchlist="wanted",
            source="face_recognition example image",
            legal_basis="test",
            proposer=None,
        )
        now = datetime.now(UTC)
        rt.governance.request(
            NewAuthorisation(
                "W-1",
                "court",
                "warrant 1",
                "find A.L.",
                ["stage"],
                now - timedelta(hours=1),
                now + timedelta(days=1),
            ),
            by=rt.actor,
            urgent_deadline=timedelta(hours=24),
        )
        rt.governance.bind_watchlist("wanted", "W-1", by=rt.actor)
        rt.governance.decide("W-1", AuthorisationStatus.APPROVED, by=Actor("sam", "supervisor"))

        real = rt.gallery.index
        recording: dict[frozenset[str] | None, RecordingIndex] = {}

        def index(allowed: frozenset[str] | None = None) -> WatchlistIndex:
            return recording.setdefault(allowed, RecordingIndex(real(allowed))) if allowed else real(allowed)  # type: ignore[return-value]

        rt.gallery.index = index  # type: ignore[method-assign]
        outcomes: list[TrackOutcome] = []
        camera = CameraSettings(id="stage", url=str(ex / "short_hamilton_clip.mp4"), mode=mode)
        worker = rt.camera_worker(camera, outcomes.append)
        worker.start()
        assert worker.join(240)
        probes = [p for r in recording.values() for p in r.probes]
        while_open = disk_bytes(data_dir)
    finally:
        rt.close()
    return Run(data_dir, probes, outcomes, while_open)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[dict[ProcessingMode, Run]]:
    tmp = tmp_path_factory.mktemp("no-trace")
    yield {
        m: watch_hamilton(tmp, shared_data, m) for m in (ProcessingMode.WATCHLIST, ProcessingMode.INVESTIGATE)
    }


def unmatched(run: Run) -> tuple[list[bytes], list[bytes]]:
    templates = [vectors.encode(t) for t, result in run.probes if not result.is_match]
    crops = [encode_jpeg(o.track.best.crop) for o in run.outcomes if not o.match.is_match]
    return templates, crops


@pytest.mark.slow
def test_watchlist_mode_leaves_no_trace_of_unmatched_faces(runs: dict[ProcessingMode, Run]) -> None:
    run = runs[ProcessingMode.WATCHLIST]
    templates, crops = unmatched(run)
    assert len(templates) >= 3 and len(crops) == len(templates)  # faces were seen, embedded and compared
    assert all(o.saved is None for o in run.outcomes)
    disk = disk_bytes(run.data_dir) + run.while_open
    assert (run.data_dir / "citywatch.db").is_file() and len(disk) > 100_000
    assert [t for t in templates if t in disk] == []
    assert [c for c in crops if c in disk] == []
    # not even a prefix of a template (a torn write) is left
    assert [t for t in templates if t[:64] in disk] == []


@pytest.mark.slow
def test_the_scan_finds_what_investigate_mode_keeps(runs: dict[ProcessingMode, Run]) -> None:
    run = runs[ProcessingMode.INVESTIGATE]
    templates, crops = unmatched(run)
    assert templates and crops
    disk = run.while_open
    assert all(t in disk for t in templates)
    assert all(c in disk for c in crops)
    assert np.isfinite([np.frombuffer(t, "<f4") for t in templates]).all()
