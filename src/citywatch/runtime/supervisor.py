"""The supervisor: owns what `citywatch run` starts (camera workers, the purge, order
enforcement, alert delivery), watches each, and restarts one that dies (an exception, a
decoder crash, a stream that gave up) after a backoff, within a restart budget; one more death
and it is marked failed, the rest of the city running on.

What it owns are `Child`ren built by a factory, so that a restart is a fresh one (a new source,
a new pipeline, new threads). It tells the world through `SupervisorEvents` (the runtime wires
them to the audit log, the live camera registry and the metrics); the restart decision itself
is `next_restart`, a pure function of the recent restarts and the policy."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from citywatch.domain.errors import CitywatchError
from citywatch.domain.lifecycle import Child, Death

log = logging.getLogger(__name__)

TICK_S = 0.2
"""How often the supervisor looks at its children."""


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """At most `budget` restarts within `window_s`; the n-th restart waits
    `backoff_initial_s * 2**(n-1)`, at most `backoff_max_s`."""

    budget: int = 5
    window_s: float = 600.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0


def next_restart(restarts: Sequence[float], now: float, policy: RestartPolicy) -> float | None:
    """The wait before restarting a child that died at `now`, having been restarted at the
    (monotonic) times `restarts`; None when the budget is spent: it has failed."""
    recent = [t for t in restarts if now - t < policy.window_s]
    if len(recent) >= policy.budget:
        return None
    return min(policy.backoff_initial_s * 2.0 ** len(recent), policy.backoff_max_s)


class ChildState(StrEnum):
    RUNNING = "running"
    RESTARTING = "restarting"
    """Dead, waiting out its backoff before a fresh one starts."""
    DONE = "done"
    """Finished its work (a file read to its end)."""
    FAILED = "failed"
    """Dead for good: the restart budget is spent, or restarting cannot help."""
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ChildStatus:
    name: str
    """`camera:<id>` or `service:<name>`: the audit log's object for it."""
    state: ChildState
    restarts: int
    """Restarts since `run` started (not only those within the budget's window)."""
    error: str | None = None
    """Why it last died (None: it never has)."""
    restart_in_s: float | None = None
    """While restarting: seconds until the fresh one starts."""

    @property
    def camera_id(self) -> str | None:
        kind, _, rest = self.name.partition(":")
        return rest if kind == "camera" else None


class SupervisorEvents(Protocol):
    """What the supervisor tells the rest of the runtime, from its own thread."""

    def restarted(self, name: str, restarts: int, reason: str) -> None: ...

    def failed(self, name: str, restarts: int, reason: str) -> None: ...


@dataclass
class _Slot:
    name: str
    factory: Callable[[], Child]
    child: Child | None
    state: ChildState
    error: str | None = None
    tier: int = 0
    due: float = 0.0
    restarts_total: int = 0
    spec: object = None
    """What the child was built from (a camera's settings), for whoever keeps it in step."""
    started: bool = False
    """Its child was started (a child built but never started is not joined)."""

    def __post_init__(self) -> None:
        self.restarts: deque[float] = deque(maxlen=1000)


class Supervisor:
    """Add children (`add`), `start` them and the watching thread, `stop` them all; while it
    runs, a child added is started at once and one can be `remove`d (a camera taken out of a
    running city). Thread-safe to read (`status`) from the API while it runs."""

    def __init__(
        self,
        policy: RestartPolicy,
        events: SupervisorEvents,
        *,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
    ) -> None:
        self._policy = policy
        self._events = events
        self._clock = clock
        self._tick_s = tick_s
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def add(
        self, name: str, factory: Callable[[], Child], *, tier: int = 0, spec: object = None
    ) -> Child | None:
        """Build the child `name` now, started only if the supervisor runs already; a factory
        that fails at once (a camera that cannot be opened: a bad setting, a missing file)
        leaves it failed, with why. `stop` stops the children tier by tier, the lowest first
        (the producers before what consumes their output). `spec`: what it is built from
        (`spec(name)` tells it)."""
        try:
            child: Child | None = factory()
            slot = _Slot(name, factory, child, ChildState.RUNNING, tier=tier, spec=spec)
        except CitywatchError as exc:
            child = None
            slot = _Slot(name, factory, None, ChildState.FAILED, tier=tier, error=str(exc), spec=spec)
            self._events.failed(name, 0, str(exc))
        with self._lock:
            self._slots[name] = slot
            slot.started = (
                child is not None and self._thread.ident is not None and not self._stopping.is_set()
            )
        if slot.started and child is not None:
            child.start()
        return child

    def remove(self, name: str, timeout_s: float = 30.0) -> bool:
        """Take the child `name` out: it is no longer watched or restarted, and is stopped,
        waiting up to `timeout_s`; False when it did not stop in time (or there was none)."""
        with self._lock:
            slot = self._slots.pop(name, None)
        if slot is None:
            return False
        slot.state = ChildState.STOPPED
        if slot.child is None:
            return True
        slot.child.stop()
        return slot.child.join(timeout_s) if slot.started else True

    def spec(self, name: str) -> object:
        """What the child `name` was built from (None: nothing said, or no such child)."""
        with self._lock:
            slot = self._slots.get(name)
            return None if slot is None else slot.spec

    def start(self) -> None:
        """Start every child built so far, then the thread that watches them."""
        for slot in self._snapshot():
            if slot.child is not None:
                slot.started = True
                slot.child.start()
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> list[str]:
        """Stop watching (nothing is restarted any more), then stop the children tier by tier,
        waiting up to `timeout_s` for each tier; returns the names of those that did not stop
        in time."""
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join()
        slots = self._snapshot()
        late: list[str] = []
        for tier in sorted({s.tier for s in slots}):
            group = [s for s in slots if s.tier == tier and s.child is not None]
            for slot in group:
                assert slot.child is not None
                slot.child.stop()
            deadline = time.monotonic() + timeout_s
            for slot in group:
                assert slot.child is not None
                if slot.started and not slot.child.join(max(deadline - time.monotonic(), 0)):
                    late.append(slot.name)
        with self._lock:
            for slot in slots:
                if slot.state in (ChildState.RUNNING, ChildState.RESTARTING):
                    slot.state = ChildState.STOPPED
        return late

    def child(self, name: str) -> Child | None:
        """The child now running as `name` (a restart replaces it)."""
        with self._lock:
            slot = self._slots.get(name)
            return None if slot is None else slot.child

    def children(self, prefix: str = "") -> list[Child]:
        """The children now in place whose names start with `prefix`, in the order added."""
        with self._lock:
            return [
                s.child for s in self._slots.values() if s.child is not None and s.name.startswith(prefix)
            ]

    def status(self) -> list[ChildStatus]:
        now = self._clock()
        with self._lock:
            return [
                ChildStatus(
                    s.name,
                    s.state,
                    s.restarts_total,
                    s.error,
                    max(s.due - now, 0.0) if s.state is ChildState.RESTARTING else None,
                )
                for s in self._slots.values()
            ]

    def settled(self, prefix: str = "") -> bool:
        """Every child named `prefix…` has ended for good (done or failed): nothing of it runs
        or will run again."""
        return all(
            s.state in (ChildState.DONE, ChildState.FAILED)
            for s in self.status()
            if s.name.startswith(prefix)
        )

    def _snapshot(self) -> list[_Slot]:
        with self._lock:
            return list(self._slots.values())

    def _watch(self) -> None:
        while not self._stopping.wait(self._tick_s):
            for slot in self._snapshot():
                try:
                    self._look_after(slot)
                except Exception:  # the supervisor is the last line: it must never die itself
                    log.exception("supervisor: looking after %s failed", slot.name)

    def _look_after(self, slot: _Slot) -> None:
        now = self._clock()
        if slot.state is ChildState.RUNNING and slot.child is not None and slot.child.done:
            death = slot.child.death
            if death is None:
                self._set(slot, ChildState.DONE)
            else:
                self._died(slot, death, now)
        elif slot.state is ChildState.RESTARTING and now >= slot.due and not self._stopping.is_set():
            self._restart(slot, now)

    def _died(self, slot: _Slot, death: Death, now: float) -> None:
        wait = None if death.permanent else next_restart(slot.restarts, now, self._policy)
        if wait is None:
            reason = death.reason
            if not death.permanent:
                reason = (
                    f"{reason} (gave up: {len(slot.restarts)} restart(s) within "
                    f"{self._policy.window_s:.0f} s, the budget is {self._policy.budget})"
                )
            self._set(slot, ChildState.FAILED, error=reason)
            log.error("%s failed for good: %s", slot.name, reason)
            self._events.failed(slot.name, slot.restarts_total, reason)
            return
        log.warning("%s died (%s); restarting in %.1f s", slot.name, death.reason, wait)
        with self._lock:
            slot.state, slot.error, slot.due = ChildState.RESTARTING, death.reason, now + wait

    def _restart(self, slot: _Slot, now: float) -> None:
        with self._lock:
            slot.restarts.append(now)
            slot.restarts_total += 1
        reason = slot.error or "died"
        try:
            child = slot.factory()
        except CitywatchError as exc:  # e.g. the stream's host still unreachable
            log.warning("%s could not be rebuilt: %s", slot.name, exc)
            self._died(slot, Death(str(exc)), now)
            return
        with self._lock:
            removed = self._slots.get(slot.name) is not slot  # taken out while it was rebuilt
            if not removed:
                slot.child, slot.state, slot.started = child, ChildState.RUNNING, True
        if removed:
            child.stop()
            return
        child.start()
        log.info("%s restarted (restart %d)", slot.name, slot.restarts_total)
        self._events.restarted(slot.name, slot.restarts_total, reason)

    def _set(self, slot: _Slot, state: ChildState, *, error: str | None = None) -> None:
        with self._lock:
            slot.state = state
            if error is not None:
                slot.error = error
