from datetime import UTC, datetime, timedelta

import numpy as np

from citywatch.config.pipeline import TrackerSettings
from citywatch.domain.faces import FaceDetections
from citywatch.domain.frames import Frame
from citywatch.track.tracker import Tracker

T0 = datetime(2026, 11, 27, tzinfo=UTC)


def frame(i: int, fps: float = 10.0) -> Frame:
    return Frame("cam", i, i / fps, T0 + timedelta(seconds=i / fps), np.zeros((200, 300, 3), np.uint8))


def faces(boxes: list[list[float]], quality: list[float] | None = None) -> FaceDetections:
    n = len(boxes)
    f = FaceDetections.from_arrays(np.array(boxes).reshape(n, 4), np.full(n, 0.9), np.zeros((n, 5, 2)))
    return f.with_quality(quality if quality is not None else np.full(n, 0.5))


def test_two_faces_moving_stay_two_tracks_and_end_after_the_gap() -> None:
    tr = Tracker(TrackerSettings(max_gap_s=0.5, min_detections=2), "cam")
    for i in range(5):
        assert (
            tr.update(frame(i), faces([[10 + 3 * i, 10, 50 + 3 * i, 50], [200 - 3 * i, 20, 240 - 3 * i, 60]]))
            == []
        )
    assert tr.active == 2
    finished = []
    for i in range(5, 12):
        finished += tr.update(frame(i), faces([]))
    assert len(finished) == 2
    assert sorted(t.detections for t in finished) == [5, 5]
    assert all(t.last_pts_s == 0.4 for t in finished)
    assert tr.active == 0


def test_keeps_best_k_shots_by_quality() -> None:
    tr = Tracker(TrackerSettings(best_shots=2, embed_shots=1, min_detections=1), "cam")
    for i, q in enumerate([0.2, 0.9, 0.5, 0.7]):
        tr.update(frame(i), faces([[10, 10, 50, 50]], [q]))
    (track,) = tr.flush()
    assert [round(s.quality, 2) for s in track.shots] == [0.9, 0.7]
    assert [s.frame_index for s in track.shots] == [1, 3]
    assert track.shots[0].crop.shape[2] == 3


def test_short_tracks_are_dropped_as_noise() -> None:
    tr = Tracker(TrackerSettings(min_detections=3), "cam")
    tr.update(frame(0), faces([[10, 10, 50, 50]]))
    tr.update(frame(1), faces([[10, 10, 50, 50]]))
    assert tr.flush() == []


def test_fast_motion_without_overlap_continues_by_centre_distance() -> None:
    tr = Tracker(TrackerSettings(min_detections=1), "cam")
    for i in range(4):  # 40 px faces moving 30 px a frame: IoU 0.14, below the threshold
        tr.update(frame(i), faces([[30 * i, 0, 30 * i + 40, 40]]))
    (track,) = tr.flush()
    assert track.detections == 4


def test_a_far_jump_starts_a_new_track() -> None:
    tr = Tracker(TrackerSettings(min_detections=1), "cam")
    tr.update(frame(0), faces([[0, 0, 40, 40]]))
    tr.update(frame(1), faces([[100, 0, 140, 40]]))  # 2.5 face widths away
    assert sorted(t.detections for t in tr.flush()) == [1, 1]
