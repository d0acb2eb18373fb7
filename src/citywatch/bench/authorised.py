"""The authorisation benchmarks run under: a real one, on the benchmark's own database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from citywatch.domain.audit import Actor
from citywatch.domain.policy import AuthorisationStatus
from citywatch.governance.records import NewAuthorisation
from citywatch.runtime.build import Runtime

BENCH = Actor("citywatch-bench@system", "admin")
BENCH_APPROVER = Actor("citywatch-bench-approver@system", "supervisor")


def authorise_benchmark(rt: Runtime, cameras: Sequence[str], *, hours: float = 24.0) -> str:
    """Record and approve an authorisation over `cameras` and every watchlist in `rt`'s store.

    Benchmarks run on a throwaway database filled with public test images (`citywatch
    bench` gives them a data folder and database of their own), so the benchmark is both
    requester and approver there; the pipeline then runs under the real policy path."""
    reference = f"BENCH-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    rt.governance.request(
        NewAuthorisation(
            reference=reference,
            issuer="citywatch bench",
            legal_basis="benchmark on public test data",
            objective="measure speed and accuracy",
            cameras=cameras,
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=hours),
        ),
        by=BENCH,
        urgent_deadline=timedelta(hours=24),
    )
    # approved before binding: a watchlist bound to an earlier authorisation still in force
    # (the benchmark's previous clip) moves only to an approved one
    rt.governance.decide(reference, AuthorisationStatus.APPROVED, by=BENCH_APPROVER)
    for watchlist in rt.watchlists.list_watchlists():
        rt.governance.bind_watchlist(watchlist.name, reference, by=BENCH)
    rt.policy.refresh()
    return reference
