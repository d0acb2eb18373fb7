"""The scheduled purge beside the cameras: runs at once, again on its period, survives failures."""

from __future__ import annotations

import threading

from citywatch.domain.errors import Unavailable
from citywatch.runtime.housekeeping import Scheduled


def test_runs_at_start_and_on_its_period_and_survives_a_failure() -> None:
    calls: list[int] = []
    third = threading.Event()

    def job() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise Unavailable("database is locked")
        if len(calls) >= 3:
            third.set()

    s = Scheduled("test job", job, every_s=0.01)
    s.start()
    assert third.wait(5)
    s.stop()
    assert s.failures == 1 and s.runs >= 2
    n = len(calls)
    threading.Event().wait(0.05)
    assert len(calls) == n  # stopped means stopped
