"""The speed measurements produce consistent numbers (not the figures themselves)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citywatch.bench.speed import (
    approximate_matching_speed,
    clustered_gallery,
    matching_speed,
    pipeline_speed,
    speed_json,
    speed_markdown,
)
from citywatch.runtime.build import Runtime


def test_matching_speed_reports_each_gallery() -> None:
    rows = matching_speed([100, 2000], probes=5)
    assert [r.gallery for r in rows] == [100, 2000]
    assert all(r.ms_per_probe > 0 for r in rows)


@pytest.mark.slow
def test_pipeline_speed_accounts_for_its_time(rt: Runtime, shared_data: Path) -> None:
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    result = pipeline_speed(rt, clip, detect_fps=8, max_frames=40)
    assert 40 <= result.frames <= 45  # the source reads on to the next sampled frame
    assert 0 < result.frames_detected < result.frames
    assert set(result.stage_seconds) >= {"decode", "detect", "quality", "track"}
    assert sum(result.stage_seconds.values()) <= result.seconds * 1.05
    assert result.identities == {}  # nobody enrolled in this runtime
    md = speed_markdown(
        speed_json(
            [result],
            matching_speed([10], probes=2),
            {"command": "c", "date": "d", "machine": "m", "detect_fps": 8, "max_frames": 40},
        )
    )
    assert "| short_hamilton_clip.mp4 | " in md and "| 10 |" in md


def test_clustered_gallery_has_the_shape_of_face_templates() -> None:
    vectors, person_ids, centres = clustered_gallery(300, dim=128, seed=3)
    assert vectors.shape == (600, 128) and person_ids.tolist()[:4] == [0, 0, 1, 1]
    same = np.linalg.norm(vectors[0::2] - vectors[1::2], axis=1)
    other = np.linalg.norm(vectors[0:-2:2] - vectors[2::2], axis=1)
    assert 0.3 < np.median(same) < 0.5 and 0.8 < np.median(other) < 1.0
    assert len(centres) == 300


def test_approximate_index_agrees_with_exact_on_a_small_gallery() -> None:
    (row,) = approximate_matching_speed([2000], probes=60)
    assert row.gallery == 2000 and "HNSW" in row.index
    assert 0 <= row.match_recall <= 1 and 0 <= row.decisions_agree <= 1
    assert row.decisions_agree >= 0.8  # a working index on 1,000 persons; the report has the figure
