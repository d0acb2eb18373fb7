"""The live-load bench: real-time replay of several cameras, counted honestly."""

from __future__ import annotations

from pathlib import Path

import pytest

from citywatch.bench.live import live_load, live_markdown
from citywatch.runtime.build import Runtime


@pytest.mark.slow
def test_two_cameras_for_a_few_seconds(rt: Runtime, shared_data: Path) -> None:
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    report = live_load(rt, clip, streams=2, seconds=6, detect_fps=5)
    assert [c.camera_id for c in report.cameras] == ["live-0", "live-1"]
    for c in report.cameras:
        assert 150 <= c.frames_decoded <= 200  # about 6 s at 29.97 fps: real time, not faster
        assert c.frames_due == 30  # 6 s at 5 fps
        assert c.frames_analysed >= 0.9 * c.frames_due  # two cameras keep up on this machine
        assert c.missed == max(c.frames_due - c.frames_analysed, 0)
    assert report.rss_mb_end > 0 and report.peak_rss_mb >= report.rss_mb_end * 0.9
    md = live_markdown(report, {"command": "c", "date": "d", "machine": "m"})
    assert "| live-1 |" in md and "dropped" in md
