"""The sampler as a table: timestamps in, keep/skip out."""

from __future__ import annotations

import pytest

from citywatch.domain.errors import InvalidInput
from citywatch.ingest.sampler import Sampler


@pytest.mark.parametrize(
    ("detect_fps", "stream_fps", "pts", "kept"),
    [
        pytest.param(10, 30, [i / 30 for i in range(10)], "1001001001", id="30fps-to-10: every 3rd"),
        pytest.param(8, 25, [i / 25 for i in range(14)], "10001001001001", id="25fps-to-8: 3 or 4 apart"),
        pytest.param(30, 10, [i / 10 for i in range(5)], "11111", id="slower stream: keep all"),
        pytest.param(10, 25, [None] * 10, "1001010010", id="no pts: index / stream rate"),
        pytest.param(10, None, [None] * 10, "1001010010", id="no pts, no rate: 25 fps assumed"),
        pytest.param(5, 10, [0.0, 0.1, None, None, 0.4, None], "101010", id="some pts missing"),
        pytest.param(10, 30, [5.0, 5.05, 5.1, 1.0, 1.05, 1.1], "101101", id="clock goes back: restart"),
        pytest.param(10, 30, [0.0, 0.1, 0.2, 2.0, 2.05, 2.1], "111101", id="gap: restart, no burst"),
        pytest.param(10, 30, [0.0, 0.0, 0.0, 0.1], "1001", id="repeated pts"),
        pytest.param(10, 30, [0.85, 0.95, 1.0499999999], "111", id="float slack at the boundary"),
    ],
)
def test_keeps_frames_on_the_detection_grid(
    detect_fps: float, stream_fps: float | None, pts: list[float | None], kept: str
) -> None:
    sampler = Sampler(detect_fps, stream_fps=stream_fps)

    assert "".join("1" if sampler.keep(t) else "0" for t in pts) == kept


@pytest.mark.parametrize(
    ("stream_fps", "detect_fps", "expected_rate"),
    [(25, 8, 8.0), (30, 8, 8.0), (29.97, 10, 10.0), (12, 10, 10.0), (5, 8, 5.0), (60, 1, 1.0)],
)
def test_long_run_rate_is_the_detection_rate_or_the_stream_rate(
    stream_fps: float, detect_fps: float, expected_rate: float
) -> None:
    sampler = Sampler(detect_fps, stream_fps=stream_fps)
    seconds = 100

    kept = sum(sampler.keep(i / stream_fps) for i in range(round(stream_fps * seconds)))

    assert kept / seconds == pytest.approx(expected_rate, rel=0.01)


def test_decision_reports_the_time_it_used() -> None:
    sampler = Sampler(10, stream_fps=25)

    times = [sampler.decide(pts).t_s for pts in (None, None, 1.0, None)]

    assert times == pytest.approx([0.0, 0.04, 1.0, 1.04])


@pytest.mark.parametrize(("detect_fps", "stream_fps"), [(0, None), (-1, None), (10, 0)])
def test_rejects_rates_that_are_not_positive(detect_fps: float, stream_fps: float | None) -> None:
    with pytest.raises(InvalidInput, match="must be positive"):
        Sampler(detect_fps, stream_fps=stream_fps)
