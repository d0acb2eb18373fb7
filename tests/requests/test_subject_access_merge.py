"""Where the requester was seen, merged into appearances: padded, clipped to the request's
window, joined where they touch, and never of zero length."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citywatch.requests.subject_access import Appearance, _merge

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PAD = timedelta(seconds=2)


def s(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("spans", "window", "expected"),
    [
        pytest.param([(s(10), s(10))], (s(0), s(60)), [(s(8), s(12))], id="one frame, padded"),
        pytest.param([(s(1), s(1))], (s(0), s(60)), [(s(0), s(3))], id="clipped at the window's start"),
        pytest.param([(s(59), s(59))], (s(0), s(60)), [(s(57), s(60))], id="clipped at the window's end"),
        pytest.param(
            [(s(10), s(10)), (s(13), s(13))], (s(0), s(60)), [(s(8), s(15))], id="overlapping, merged"
        ),
        pytest.param([(s(10), s(10)), (s(14), s(14))], (s(0), s(60)), [(s(8), s(16))], id="touching, merged"),
        pytest.param(
            [(s(20), s(20)), (s(10), s(10))],
            (s(0), s(60)),
            [(s(8), s(12)), (s(18), s(22))],
            id="apart, in time order",
        ),
        pytest.param(
            [(s(10), s(30)), (s(15), s(16))], (s(0), s(60)), [(s(8), s(32))], id="a span inside another"
        ),
        pytest.param([(s(62), s(70))], (s(0), s(60)), [], id="after the window: dropped"),
        pytest.param([(s(-20), s(-10))], (s(0), s(60)), [], id="before the window: dropped"),
        pytest.param([(s(-20), s(-2))], (s(0), s(60)), [], id="ends where the window starts: no length"),
        pytest.param([], (s(0), s(60)), [], id="nothing seen"),
    ],
)
def test_merge(
    spans: list[tuple[datetime, datetime]],
    window: tuple[datetime, datetime],
    expected: list[tuple[datetime, datetime]],
) -> None:
    merged = _merge("stage", spans, pad=PAD, start=window[0], end=window[1])
    assert merged == [Appearance("stage", lo, hi) for lo, hi in expected]
    assert all(a.start < a.end for a in merged)
