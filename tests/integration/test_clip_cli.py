"""`citywatch watch` records footage; `citywatch clip` cuts it across segments, audited, with
clear errors and exit codes for what it cannot serve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import av
import pytest

from citywatch.config.settings import Settings
from citywatch.domain.footage import Segment
from citywatch.runtime.build import build_runtime
from tests.integration.cli_helpers import citywatch

SEGMENT_S = {"CITYWATCH_RECORDING__SEGMENT_S": "3"}


@pytest.fixture(scope="module")
def watched(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path, module_database: None
) -> tuple[Path, list[Segment]]:
    """The Hamilton clip watched in detect mode as camera `gate`, recorded in 3 s segments."""
    work = tmp_path_factory.mktemp("clip")
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    res = citywatch(
        work,
        shared_data,
        "watch",
        str(clip),
        "--camera-id",
        "gate",
        "--mode",
        "detect",
        "--json",
        env=SEGMENT_S,
    )
    assert res.code == 0, res.stderr
    assert res.json_lines()[-1]["footage_segments"] == 3
    rt = build_runtime(Settings(data_dir=work / "data"))
    try:
        now = datetime.now(UTC)
        segments = rt.footage.segments("gate", now - timedelta(hours=1), now + timedelta(hours=1))
    finally:
        rt.close()
    return work, segments


def test_watch_records_the_camera_in_segments(watched: tuple[Path, list[Segment]]) -> None:
    work, segments = watched
    assert len(segments) == 3
    assert all(a.ended_at == b.started_at for a, b in pairwise(segments))
    for s in segments:
        assert (work / "data/footage" / s.path).stat().st_size == s.size


def test_a_clip_across_a_boundary_is_written_and_audited(
    watched: tuple[Path, list[Segment]], shared_data: Path
) -> None:
    work, segments = watched
    start = segments[0].ended_at - timedelta(seconds=0.5)
    end = segments[1].started_at + timedelta(seconds=1.5)
    out = work / "boundary.mp4"
    res = citywatch(
        work, shared_data, "clip", "gate", start.isoformat(), end.isoformat(), "--out", str(out), "--json"
    )
    assert res.code == 0, res.stderr
    (line,) = res.json_lines()
    assert line["segment_ids"] == [segments[0].id, segments[1].id]
    with av.open(str(out)) as container:
        times = [float(f.time) for f in container.decode(video=0)]
    assert times and 1.5 < times[-1] - times[0] < 4.1  # from the keyframe before START to END
    assert abs(line["duration_s"] - (times[-1] - times[0]) - 1 / 29.97) < 0.05

    records = citywatch(work, shared_data, "audit", "list", "--json").json_lines()
    export = [r for r in records if r["action"] == "clip.export"]
    assert len(export) == 1 and export[0]["object"] == "camera:gate"
    assert export[0]["params"]["segments"] == [segments[0].id, segments[1].id]
    assert export[0]["params"]["since"] == start.isoformat()
    assert export[0]["params"]["sha256"] == line["sha256"]


@pytest.mark.parametrize(
    ("camera", "start", "end", "code", "message"),
    [
        ("nowhere", "1h", "+1h", 3, "unknown camera 'nowhere'"),
        ("gate", "+1h", "+2h", 3, "no footage of camera gate"),
        ("gate", "+2h", "+1h", 2, "must start before it ends"),
        ("gate", "yesterday", "+1h", 2, "not a time"),
    ],
)
def test_what_cannot_be_served_is_refused_with_its_exit_code(
    watched: tuple[Path, list[Segment]],
    shared_data: Path,
    camera: str,
    start: str,
    end: str,
    code: int,
    message: str,
) -> None:
    work, _segments = watched
    res = citywatch(work, shared_data, "clip", camera, start, end, "--out", str(work / "refused.mp4"))
    assert res.code == code, res.stderr
    assert message in " ".join(res.stderr.split())
    assert not (work / "refused.mp4").exists()
