"""Replay: a file played at its own speed and looped, as a live camera."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

from citywatch.config.ingest import SourceSettings
from citywatch.ingest.file import FileSource


def test_replay_loops_on_one_growing_timeline_at_wall_clock_speed(shared_data: Path) -> None:
    clip = shared_data / "face-api.js/test/media/video.mp4"  # 5 frames at 23.98 fps: 0.21 s a pass
    source = FileSource("cam", clip, SourceSettings(detect_fps=60, replay=True))
    started = time.monotonic()
    pts = []
    for frame in source.frames():
        pts.append(frame.pts_s)
        if time.monotonic() - started > 1.0:
            source.close()
    elapsed = time.monotonic() - started
    assert source.health.frames_decoded >= 15  # several passes of 5 frames
    assert all(b > a for a, b in itertools.pairwise(pts))  # never goes back
    assert pts[-1] <= elapsed + 0.1  # not faster than real time
    assert pts[-1] >= elapsed - 0.3  # and keeps up


def test_close_stops_a_replay_promptly(shared_data: Path) -> None:
    source = FileSource(
        "cam", shared_data / "face_recognition/examples/short_hamilton_clip.mp4", SourceSettings(replay=True)
    )
    frames = source.frames()
    next(frames)
    threading.Timer(0.3, source.close).start()
    started = time.monotonic()
    for _ in frames:
        pass
    assert time.monotonic() - started < 1.5
