"""Camera workers: open tracks stored on stop, errors contained, live sources drop frames."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from citywatch.config.pipeline import TrackerSettings
from citywatch.config.vision import QualitySettings
from citywatch.domain.errors import Unavailable
from citywatch.domain.frames import Frame
from citywatch.domain.matching import GalleryEntry, MatchDecision
from citywatch.domain.policy import ProcessingMode
from citywatch.domain.records import SightingRecord, SightingSaved
from citywatch.match.index import WatchlistIndex
from citywatch.pipeline.camera import CameraPipeline
from citywatch.pipeline.worker import CameraWorker
from citywatch.track.tracker import Tracker
from citywatch.vision.quality import QualityGate
from tests.fakes.vision import FakeDetector, FakeEmbedder, ListSource, fixed_policy, frame_with_faces

T0 = datetime(2026, 11, 27, 8, tzinfo=UTC)
IMAGE = frame_with_faces([(50, 50, 200), (400, 100, 30)])
INDEX = WatchlistIndex(
    [GalleryEntry(1, 7, "Known", 1, "w", 0.1, 0.0, np.full(4, 200 / 255, np.float32))], dim=4
)


def frames(n: int) -> list[Frame]:
    return [Frame("cam", i, i / 10, T0 + timedelta(seconds=i / 10), IMAGE) for i in range(n)]


class Store:
    """Saves sightings; fails the first `failures` calls as a full disk would."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.saved: list[SightingRecord] = []

    def __call__(self, record: SightingRecord) -> SightingSaved:
        if self.failures:
            self.failures -= 1
            raise Unavailable("disk full while writing a crop")
        self.saved.append(record)
        return SightingSaved(len(self.saved), None, "crop.jpg")


def pipeline(store: Store, mode: ProcessingMode = ProcessingMode.INVESTIGATE, **kw: object) -> CameraPipeline:
    return CameraPipeline(
        camera_id="cam",
        policy=fixed_policy(mode),
        detector=kw.get("detector", FakeDetector()),  # type: ignore[arg-type]
        gate=QualityGate(QualitySettings(min_sharpness=0)),
        tracker=Tracker(TrackerSettings(max_gap_s=0.5, min_detections=1), "cam"),
        embedder=FakeEmbedder(),
        index=lambda _allowed: INDEX,
        save=store,
        embed_shots=2,
    )


def test_stop_stores_the_tracks_still_open() -> None:
    store = Store()
    worker = CameraWorker(ListSource(frames(1000), pause_s=0.002), pipeline(store), live=False)
    worker.start()
    time.sleep(0.3)
    assert store.saved == []  # both faces are still in view: their tracks are open
    worker.stop()
    assert worker.join(10)
    assert len(store.saved) == 2
    assert all(r.detections > 1 for r in store.saved)


class Exploding(FakeDetector):
    def detect(self, image: np.ndarray):  # type: ignore[no-untyped-def]
        if self.calls == 3:
            self.calls += 1
            raise RuntimeError("model blew up on one frame")
        return super().detect(image)


def test_an_unexpected_error_on_one_frame_does_not_stop_the_camera() -> None:
    store = Store()
    worker = CameraWorker(ListSource(frames(20)), pipeline(store, detector=Exploding()), live=False)
    worker.start()
    assert worker.join(10)
    assert worker.unexpected_errors == 1
    assert worker.pipeline.stats.frames == 19
    assert len(store.saved) == 2


def test_storage_errors_are_retried_and_nothing_is_lost() -> None:
    store = Store(failures=1)
    p = pipeline(store)
    for f in frames(3):
        p.process(f)
    later = Frame("cam", 10, 2.0, T0 + timedelta(seconds=2), frame_with_faces([(200, 200, 90)]))
    p.process(later)  # the first two tracks end here; the first save fails, the second succeeds
    assert len(store.saved) == 1 and p.stats.sightings == 1
    p.flush()  # the retry stores the held sighting; the third track is stored too
    assert len(store.saved) == 3 and p.stats.lost == 0


def test_storage_that_never_recovers_is_reported_at_flush() -> None:
    store = Store(failures=10_000)
    p = pipeline(store)
    for f in frames(3):
        p.process(f)
    with pytest.raises(Unavailable, match="disk full"):
        p.flush()
    assert p.stats.lost == 2 and store.saved == []


def test_live_source_drops_frames_when_the_pipeline_lags() -> None:
    class Slow(FakeDetector):
        def detect(self, image: np.ndarray):  # type: ignore[no-untyped-def]
            time.sleep(0.01)
            return super().detect(image)

    store = Store()
    worker = CameraWorker(ListSource(frames(300)), pipeline(store, detector=Slow()), live=True, queue_size=2)
    worker.start()
    assert worker.join(20)
    status = worker.status()
    assert status.dropped > 0
    assert status.dropped + worker.pipeline.stats.frames == 300


def test_watchlist_mode_withholds_the_nearest_person_of_an_unmatched_face() -> None:
    store = Store()
    p = pipeline(store, mode=ProcessingMode.WATCHLIST)
    outcomes = [o for f in frames(3) for o in p.process(f)] + p.flush()
    unmatched = [o for o in outcomes if not o.match.is_match]
    assert len(unmatched) == 1
    assert unmatched[0].match.decision is MatchDecision.UNKNOWN
    assert unmatched[0].match.best is None and unmatched[0].match.runner_up is None
    assert unmatched[0].saved is None
    assert [r.match.decision for r in store.saved] == [MatchDecision.MATCH]
