"""The camera pipeline with fake models: what is stored in each mode, and embedding per track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from citywatch.config.ingest import ProcessingMode
from citywatch.config.pipeline import TrackerSettings
from citywatch.config.vision import QualitySettings
from citywatch.domain.frames import Frame
from citywatch.domain.matching import GalleryEntry, MatchDecision
from citywatch.match.index import WatchlistIndex
from citywatch.runtime.pipeline import CameraPipeline
from citywatch.store.records import SightingRecord, SightingSaved
from citywatch.track.tracker import Tracker
from citywatch.vision.quality import QualityGate
from tests.fakes.vision import FakeDetector, FakeEmbedder, frame_with_faces

T0 = datetime(2026, 11, 27, 8, tzinfo=UTC)
KNOWN_GREEN = 200  # the enrolled person's face colour in the fake model


def pipeline(
    mode: ProcessingMode, saved: list[SightingRecord]
) -> tuple[CameraPipeline, FakeDetector, FakeEmbedder]:
    g = KNOWN_GREEN / 255
    index = WatchlistIndex(
        [GalleryEntry(1, 7, "Known", 1, "wanted", 0.1, 0.0, np.full(4, g, np.float32))], dim=4
    )
    det, emb = FakeDetector(), FakeEmbedder()

    def save(record: SightingRecord) -> SightingSaved:
        saved.append(record)
        return SightingSaved(
            len(saved), len(saved) if record.match.is_match else None, f"crop{len(saved)}.jpg"
        )

    p = CameraPipeline(
        camera_id="cam",
        mode=mode,
        detector=det,
        gate=QualityGate(QualitySettings(min_sharpness=0)),
        tracker=Tracker(TrackerSettings(best_shots=3, embed_shots=2, max_gap_s=0.5), "cam"),
        embedder=emb,
        index=lambda: index,
        save=save,
        embed_shots=2,
    )
    return p, det, emb


def feed(p: CameraPipeline, n: int, faces: list[tuple[int, int, int]]) -> list[object]:
    outcomes: list[object] = []
    for i in range(n):
        f = Frame("cam", i, i / 10, T0 + timedelta(seconds=i / 10), frame_with_faces(faces))
        outcomes += p.process(f)
    return outcomes + p.flush()


@pytest.mark.parametrize(
    ("mode", "stored_decisions"),
    [
        (ProcessingMode.WATCHLIST, [MatchDecision.MATCH]),
        (ProcessingMode.INVESTIGATE, [MatchDecision.MATCH, MatchDecision.UNKNOWN_DISTANCE]),
    ],
)
def test_what_each_mode_stores(mode: ProcessingMode, stored_decisions: list[MatchDecision]) -> None:
    saved: list[SightingRecord] = []
    p, _, _ = pipeline(mode, saved)
    outcomes = feed(p, 10, [(50, 50, KNOWN_GREEN), (400, 100, 30)])
    assert len(outcomes) == 2
    assert sorted(r.match.decision for r in saved) == sorted(stored_decisions)
    assert p.stats.discarded == (1 if mode is ProcessingMode.WATCHLIST else 0)
    matched = [r for r in saved if r.match.is_match]
    assert matched[0].match.best is not None and matched[0].match.best.person_name == "Known"
    assert matched[0].crop_jpeg[:2] == b"\xff\xd8"  # a JPEG
    assert p.stats.alerts == 1


def test_embeddings_per_track_not_per_frame() -> None:
    saved: list[SightingRecord] = []
    p, det, emb = pipeline(ProcessingMode.INVESTIGATE, saved)
    feed(p, 30, [(50, 50, KNOWN_GREEN), (400, 100, 30)])
    assert det.calls == 30
    assert emb.calls == 4  # 2 tracks x 2 best shots, not 60 faces
    assert all(r.detections == 30 for r in saved)
    assert all(r.template is not None and r.template.shape == (4,) for r in saved)
