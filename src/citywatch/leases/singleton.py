"""Jobs that run in one process at a time (the purge, order enforcement, the delivery outbox's
relay): each round runs only while this process holds the lease `singleton.<name>`, taken
when it is free and kept by the process's `LeaseKeeper` between rounds, so that the process
that has the job keeps it until it stops or dies. With the embedded lease store (no `bus`)
the one process always gets it: nothing changes.

A round that has begun is not interrupted: the keeper renews the lease while it runs, and a
round is only begun while the lease has at least the keeper's margin to run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from citywatch.domain.leases import singleton_key
from citywatch.leases.keeper import LeaseKeeper

log = logging.getLogger(__name__)


class Singleton:
    """One job's lease, for one process: `claim` before each round, or `run` a round."""

    def __init__(self, keeper: LeaseKeeper, name: str) -> None:
        self.name = name
        self.key = singleton_key(name)
        self._keeper = keeper
        self._was_held: bool | None = None

    @property
    def holds(self) -> bool:
        """This process holds the job's lease now (no call to the store)."""
        return self._keeper.holds(self.key)

    def claim(self) -> bool:
        """Whether this process may run a round now: it holds the lease, or has just taken it."""
        held = self.holds or bool(self._keeper.take([self.key]))
        if held != self._was_held:
            lease = self._keeper.lease(self.key)
            if lease is not None:
                log.info("singleton %s: this process runs it (fencing token %d)", self.name, lease.token)
            else:
                log.info("singleton %s: another process runs it (or the lease store is away)", self.name)
            self._was_held = held
        return held

    def run(self, job: Callable[[], object]) -> bool:
        """Run one round of `job` if this process may; whether it ran (its errors propagate)."""
        if not self.claim():
            return False
        job()
        return True

    def guard(self, job: Callable[[], object]) -> Callable[[], None]:
        """`job` as a round that runs only in the process holding the lease (for `Scheduled`)."""

        def round_() -> None:
            self.run(job)

        return round_

    def release(self) -> None:
        """Give the job up now (another process takes it at its next round)."""
        self._keeper.release(self.key)


class Singletons:
    """A process's singleton jobs over its keeper, one `Singleton` per name."""

    def __init__(self, keeper: LeaseKeeper) -> None:
        self._keeper = keeper
        self._lock = threading.Lock()
        self._by_name: dict[str, Singleton] = {}

    def get(self, name: str) -> Singleton:
        with self._lock:
            if name not in self._by_name:
                self._by_name[name] = Singleton(self._keeper, name)
            return self._by_name[name]

    def status(self) -> dict[str, bool]:
        """Each singleton this process has asked for, and whether it holds it now."""
        with self._lock:
            singletons = list(self._by_name.values())
        return {s.name: s.holds for s in sorted(singletons, key=lambda s: s.name)}
