"""The camera pipeline with fake models: what is stored in each mode, and embedding per track."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from citywatch.config.pipeline import TrackerSettings
from citywatch.config.vision import QualitySettings
from citywatch.domain.frames import Frame
from citywatch.domain.matching import GalleryEntry, MatchDecision
from citywatch.domain.policy import ModeDecision, ProcessingMode
from citywatch.domain.records import SightingRecord, SightingSaved
from citywatch.match.index import WatchlistIndex
from citywatch.pipeline.camera import CameraPipeline
from citywatch.track.tracker import Tracker
from citywatch.vision.quality import QualityGate
from tests.fakes.vision import FakeDetector, FakeEmbedder, fixed_policy, frame_with_faces

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
        policy=fixed_policy(mode),
        detector=det,
        gate=QualityGate(QualitySettings(min_sharpness=0)),
        tracker=Tracker(TrackerSettings(best_shots=3, embed_shots=2, max_gap_s=0.5), "cam"),
        embedder=emb,
        index=lambda _allowed: index,
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


def _pipeline_with(policy: Callable[[datetime], ModeDecision], saved: list[SightingRecord]) -> CameraPipeline:
    p, _, _ = pipeline(ProcessingMode.INVESTIGATE, saved)
    p._policy = policy
    return p


@pytest.mark.parametrize("mode", [ProcessingMode.OFF, ProcessingMode.RECORD])
def test_off_and_record_never_look_for_faces(mode: ProcessingMode) -> None:
    saved: list[SightingRecord] = []
    p, det, emb = pipeline(mode, saved)
    feed(p, 10, [(50, 50, KNOWN_GREEN)])
    assert (det.calls, emb.calls, saved) == (0, 0, [])
    assert p.stats.idle_frames == 10
    assert p.view(identifies_now=True) is None


def test_detect_counts_and_blurs_faces_but_never_embeds_or_stores() -> None:
    saved: list[SightingRecord] = []
    p, det, emb = pipeline(ProcessingMode.DETECT, saved)
    original = frame_with_faces([(50, 50, KNOWN_GREEN), (400, 100, 30)])
    for i in range(10):
        p.process(Frame("cam", i, i / 10, T0 + timedelta(seconds=i / 10), original.copy()))
    view = p.view(identifies_now=True)  # the mode now identifying does not unblur a detect frame
    assert view is not None and view.blurred and view.image.shape == original.shape
    assert not np.array_equal(view.image, original)  # the faces are pixelated
    p.flush()
    assert det.calls == 10 and p.stats.faces_detected == 20
    assert (emb.calls, saved, p.stats.tracks) == (0, [], 0)
    assert p.view(identifies_now=True) is None  # the camera ended: its last frame is gone


def test_identification_stopping_mid_track_drops_the_track_unembedded() -> None:
    saved: list[SightingRecord] = []
    t_stop = T0 + timedelta(seconds=0.55)
    on, off = fixed_policy(ProcessingMode.WATCHLIST), fixed_policy(ProcessingMode.DETECT)
    p = _pipeline_with(lambda at: on(at) if at < t_stop else off(at), saved)
    feed(p, 10, [(50, 50, KNOWN_GREEN)])
    assert saved == [] and p.stats.embeddings == 0
    assert p.stats.withheld == 1


def test_only_the_watchlists_of_the_authorisations_in_force_are_matched() -> None:
    saved: list[SightingRecord] = []
    p = _pipeline_with(fixed_policy(ProcessingMode.WATCHLIST, watchlists=("missing",)), saved)
    allowed: list[frozenset[str]] = []
    full = p._index
    p._index = lambda names: (allowed.append(names), full(names))[1]
    feed(p, 10, [(50, 50, KNOWN_GREEN)])
    assert allowed == [frozenset({"missing"})]


def test_a_stored_sighting_names_the_authorisation_it_was_derived_under() -> None:
    saved: list[SightingRecord] = []
    p, _, _ = pipeline(ProcessingMode.WATCHLIST, saved)
    feed(p, 10, [(50, 50, KNOWN_GREEN)])
    assert [r.authorisation_id for r in saved] == [1]
