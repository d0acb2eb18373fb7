from datetime import UTC, datetime, timedelta

import pytest

from citywatch.services.search import CaseScope, scope_problem

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("scope", "problem"),
    [
        (CaseScope("C-1", "order 7", ["gate"], NOW - 2 * H, None), None),
        (CaseScope("C-1", "order 7", ["gate", "hall"], NOW - 120 * H, NOW), None),  # exactly the maximum
        (CaseScope("", "order 7", ["gate"], NOW - H, None), "case id"),
        (CaseScope("C-1", " ", ["gate"], NOW - H, None), "legal basis"),
        (CaseScope("C-1", "order 7", [], NOW - H, None), "named cameras"),
        (CaseScope("C-1", "order 7", ["gate"], None, None), "start of the time window"),
        (CaseScope("C-1", "order 7", ["gate"], NOW - H, NOW - 2 * H), "ends before it starts"),
        (CaseScope("C-1", "order 7", ["gate"], NOW - 121 * H, NOW), "longer than the 120 h"),
    ],
)
def test_scope_table(scope: CaseScope, problem: str | None) -> None:
    got = scope_problem(scope, max_window=120 * H, now=NOW)
    assert (got is None) if problem is None else (got is not None and problem in got)
