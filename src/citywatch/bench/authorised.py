"""The authorisation benchmarks run under."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from citywatch.domain.policy import ALWAYS, Authorisation, AuthorisationStatus, ModeDecision, ProcessingMode
from citywatch.runtime.build import Runtime


def benchmark_policy(
    rt: Runtime, mode: ProcessingMode = ProcessingMode.INVESTIGATE
) -> Callable[[datetime], ModeDecision]:
    """Benchmarks run on a database of their own, filled with public test images: identification
    there is authorised by the benchmark itself, over every watchlist it holds."""
    auth = Authorisation(
        id=0,
        reference="benchmark",
        issuer="citywatch bench",
        legal_basis="benchmark on public test data",
        objective="measure speed and accuracy",
        cameras=frozenset(),
        watchlists=frozenset(w.name for w in rt.store.list_watchlists()),
        window=ALWAYS,
        status=AuthorisationStatus.APPROVED,
    )
    decision = ModeDecision(mode, mode, (auth,))
    return lambda _at: decision
