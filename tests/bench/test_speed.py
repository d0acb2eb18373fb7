"""The speed measurements produce consistent numbers (not the figures themselves)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citywatch.bench.speed import (
    approximate_matching_speed,
    matching_speed,
    pipeline_speed,
    speed_json,
    speed_markdown,
)
from citywatch.runtime.build import Runtime


def test_matching_speed_reports_each_gallery() -> None:
    rows = matching_speed([100, 2000], probes=5)
    assert [r.gallery for r in rows] == [100, 2000]
    assert all(r.ms_per_probe > 0 and r.probes_per_s == pytest.approx(1000 / r.ms_per_probe) for r in rows)


@pytest.mark.slow
def test_pipeline_speed_accounts_for_its_time(rt: Runtime, shared_data: Path) -> None:
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    result = pipeline_speed(rt, clip, detect_fps=8, max_frames=40)
    assert 40 <= result.frames <= 45  # the source reads on to the next sampled frame
    assert 0 < result.frames_detected < result.frames
    assert set(result.stage_seconds) >= {"decode", "detect", "quality", "track"}
    assert sum(result.stage_seconds.values()) <= result.seconds * 1.05
    assert result.frames_per_s == pytest.approx(result.frames / result.seconds)
    md = speed_markdown(
        speed_json(
            [result],
            matching_speed([10], probes=2),
            {"command": "c", "date": "d", "machine": "m", "detect_fps": 8, "max_frames": 40},
        )
    )
    assert "| short_hamilton_clip.mp4 | " in md and "| 10 |" in md


def test_approximate_index_finds_mated_templates_on_a_small_gallery() -> None:
    (row,) = approximate_matching_speed([2000], probes=40)
    assert row.gallery == 2000 and "HNSW" in row.index
    assert row.recall_nearest >= 0.9  # a working index; the report gives the real figure
    assert row.ms_per_probe > 0
