"""domain.retention.hold_reach, pure: which holds are refused, which wait for a second person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citywatch.domain.policy import Window
from citywatch.domain.retention import HeldAlone, HoldBounds, HoldReach, hold_reach

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
KNOWN = frozenset({"a", "b", "c", "d"})
RECENT = Window(NOW - DAY, NOW - DAY / 2)


def reach_of(cameras: set[str], window: Window | None, held: list[HeldAlone] | None = None) -> HoldReach:
    """hold_reach over KNOWN (all configured), five days of data kept, at NOW."""
    return hold_reach(
        frozenset(cameras),
        window,
        known=KNOWN,
        configured=len(KNOWN),
        oldest=NOW - 5 * DAY,
        now=NOW,
        bounds=HoldBounds(),
        held_alone=held or (),
    )


@pytest.mark.parametrize(
    ("cameras", "window", "refusal", "waits"),
    [
        ({"a"}, RECENT, None, ()),
        ({"a", "b"}, RECENT, None, ()),  # half the cameras: alone
        ({"a", "b", "c"}, RECENT, None, ("3 of the 4 cameras",)),
        (KNOWN, RECENT, None, ("4 of the 4 cameras",)),
        ({"a"}, Window(NOW - DAY, NOW + 20 * DAY), None, ("spans 21.0 days",)),
        (KNOWN, Window(NOW - DAY, NOW + 20 * DAY), None, ("spans 21.0 days", "4 of the 4 cameras")),
        ({"a"}, Window(NOW - DAY, NOW + 14 * DAY - DAY), None, ()),  # 14 days exactly: alone
        ({"a", "x", "y"}, RECENT, "unknown camera(s): x, y", ()),
        ({"a"}, Window(NOW, None), "both a start and an end", ()),
        ({"a"}, Window(NOW, NOW - DAY), "ends before it starts", ()),
        ({"a"}, Window(datetime(2000, 1, 1, tzinfo=UTC), NOW), "before any data still kept", ()),
        ({"a"}, Window(NOW, datetime(9999, 1, 1, tzinfo=UTC)), "days from now", ()),
        ({"a"}, Window(NOW - 6 * DAY, NOW + 90 * DAY), "more than the 92 allowed", ()),
        ({"a"}, None, None, ()),  # named items only
    ],
)
def test_hold_reach(
    cameras: set[str], window: Window | None, refusal: str | None, waits: tuple[str, ...]
) -> None:
    reach = reach_of(cameras, window)
    if refusal is None:
        assert reach.refusal is None
    else:
        assert reach.refusal is not None and refusal in reach.refusal
    assert len(reach.second_person) == len(waits)
    for why, expected in zip(reach.second_person, waits, strict=True):
        assert expected in why


def test_one_camera_of_one_is_not_city_wide() -> None:
    reach = hold_reach(
        frozenset({"a"}),
        RECENT,
        known=frozenset({"a"}),
        configured=1,
        oldest=NOW,
        now=NOW,
        bounds=HoldBounds(),
    )
    assert reach == type(reach)()


def alone(cameras: str, start_days: float, end_days: float) -> HeldAlone:
    """One of the placer's holds in force, over `cameras` from NOW + start to NOW + end days."""
    return HeldAlone(frozenset(cameras), NOW + start_days * DAY, NOW + end_days * DAY)


@pytest.mark.parametrize(
    ("cameras", "window", "held", "waits"),
    [
        ({"a"}, RECENT, [alone("b", -1, 0)], ()),  # two of four together: alone
        ({"a"}, RECENT, [alone("b", -1, 0), alone("c", -1, 0)], ("3 of the 4 cameras",)),
        ({"a"}, RECENT, [alone("a", -1, 0), alone("b", -1, 0)], ()),  # a again: still two
        ({"a"}, Window(NOW, NOW + 10 * DAY), [alone("a", 10, 20)], ("camera a is held over 20.0 days",)),
        ({"a"}, Window(NOW, NOW + 10 * DAY), [alone("a", 5, 9)], ()),  # overlap counted once
        ({"a"}, Window(NOW, NOW + 10 * DAY), [alone("a", 6, 14)], ()),  # 14 days in all: alone
        ({"a"}, Window(NOW, NOW + 10 * DAY), [alone("b", 10, 20)], ()),  # another camera's days
        # needing a second person on its own, it says so once, for itself
        (KNOWN, RECENT, [alone("a", -1, 0)], ("4 of the 4 cameras",)),
    ],
)
def test_a_placers_other_holds_count_against_what_they_hold_alone(
    cameras: set[str], window: Window, held: list[HeldAlone], waits: tuple[str, ...]
) -> None:
    """A city-wide or long hold split into small ones waits as the whole would."""
    reach = reach_of(cameras, window, held)
    assert reach.refusal is None
    assert len(reach.second_person) == len(waits), reach.second_person
    for why, expected in zip(reach.second_person, waits, strict=True):
        assert expected in why
