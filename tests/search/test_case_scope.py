from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from citywatch.domain.policy import Authorisation, AuthorisationStatus, Window
from citywatch.search.photo import CaseScope, scope_problem

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
H = timedelta(hours=1)
AUTH = Authorisation(
    id=1,
    reference="W-7",
    issuer="court",
    legal_basis="order 7",
    objective="find a suspect",
    cameras=frozenset({"gate", "hall"}),
    watchlists=frozenset(),
    window=Window(NOW - 200 * H, NOW + H),
    status=AuthorisationStatus.APPROVED,
)
PENDING = replace(AUTH, status=AuthorisationStatus.PENDING)
URGENT = replace(AUTH, status=AuthorisationStatus.PENDING, urgent=True, approval_deadline=NOW + H)
LATE = replace(AUTH, window=Window(NOW - 3 * H, NOW + H))


@pytest.mark.parametrize(
    ("scope", "problem"),
    [
        (CaseScope("C-1", "order 7", ["gate"], NOW - 2 * H, None, AUTH), None),
        (
            CaseScope("C-1", "order 7", ["gate", "hall"], NOW - 120 * H, NOW, AUTH),
            None,
        ),  # exactly the maximum
        (CaseScope("C-1", "order 7", ["gate"], NOW - 2 * H, None), "an authorisation is required"),
        (CaseScope("C-1", "order 7", ["gate"], NOW - 2 * H, None, PENDING), "W-7 is not in force (pending"),
        (CaseScope("C-1", "order 7", ["gate"], NOW - 2 * H, None, URGENT), "urgent, not yet approved"),
        (
            CaseScope("C-1", "order 7", ["gate", "yard"], NOW - 2 * H, None, AUTH),
            "does not name camera(s) yard",
        ),
        (CaseScope("C-1", "order 7", ["gate"], NOW - 4 * H, None, LATE), "reaches outside authorisation W-7"),
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
