"""The leases one process holds, kept: renewed at about a third of the TTL, and given up by
this process's own clock before the TTL can pass in the store.

Each lease has a deadline: when the call that last acquired or renewed it was sent, plus the
TTL, less a margin. The store's TTL runs from no earlier than that send, so up to the
deadline nobody else can hold the key. Past it this process no longer counts the lease as
held (`holds`, `held`), and `on_lost` is told at once, by a thread of its own that no slow or
unanswered call to the store can hold up: a holder cut off from the store stops acting before
another can take over. A renewal the store refuses (the lease lapsed, perhaps taken) is lost
at once too.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from citywatch.domain.errors import InvalidInput, Unavailable
from citywatch.domain.leases import Lease, LeaseStore, check_holder
from citywatch.domain.lifecycle import Death

log = logging.getLogger(__name__)

LostListener = Callable[[str], None]
"""Told the key of a lease this process lost (on a keeper thread: be quick, never block)."""
RENEW_BATCH = 100
"""Leases renewed in one call to the store (one round trip, however many the process holds)."""
WAKE_S = 0.5
"""The longest a keeper thread sleeps before looking again (a stop wakes it at once)."""


def process_holder() -> str:
    """A holder's name for this process: its host, its pid and a nonce (a restarted process,
    even one given the same pid, is a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(slots=True)
class _Held:
    lease: Lease
    deadline: float
    """By the keeper's clock: counted as held until here."""
    renew_at: float


class LeaseKeeper:
    """Holds leases for `holder` in `store`: `take` acquires, a thread renews, another drops
    what was not renewed in time and tells `on_lost`. A child of the supervisor (`start`,
    `stop`: stopping releases every lease)."""

    def __init__(
        self,
        store: LeaseStore,
        holder: str,
        *,
        on_lost: LostListener | None = None,
        renew_every_s: float | None = None,
        margin_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        ttl_s = store.ttl_s
        self._margin_s = ttl_s / 4 if margin_s is None else margin_s
        self._renew_every_s = ttl_s / 3 if renew_every_s is None else renew_every_s
        if not 0 < self._margin_s < ttl_s or not 0 < self._renew_every_s < ttl_s - self._margin_s:
            raise InvalidInput(
                f"lease keeping needs 0 < margin ({self._margin_s} s) < TTL ({ttl_s} s) and "
                f"0 < renewal interval ({self._renew_every_s} s) < TTL - margin"
            )
        self._store = store
        self._holder = check_holder(holder)
        self._ttl_s = ttl_s
        self._retry_s = min(self._renew_every_s, ttl_s / 10)
        self._clock = clock
        self._listeners: list[LostListener] = [] if on_lost is None else [on_lost]
        self._held: dict[str, _Held] = {}
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._away: str | None = None
        """Why the store could not be reached, while it cannot (logged once per outage)."""

    @property
    def holder(self) -> str:
        return self._holder

    @property
    def store(self) -> LeaseStore:
        return self._store

    def add_on_lost(self, listener: LostListener) -> None:
        """Tell `listener` too of each lease lost."""
        with self._cond:
            self._listeners.append(listener)

    # --- the leases ---------------------------------------------------------------------

    def take(self, keys: Iterable[str], limit: int | None = None) -> list[Lease]:
        """Acquire, in order, those of `keys` this keeper does not hold yet, until `limit` are
        taken (None: all it can); the leases taken. Keys another holds are passed over; a
        store that cannot be reached ends the attempt (logged) with what was taken so far."""
        taken: list[Lease] = []
        for key in keys:
            if limit is not None and len(taken) >= limit:
                break
            with self._cond:
                if key in self._held:  # held, or lapsing now: its loss is told first
                    continue
            sent = self._clock()
            try:
                lease = self._store.acquire(key, self._holder)
            except Unavailable as exc:
                self._store_away(exc)
                break
            self._store_back()
            if lease is None:
                continue
            with self._cond:
                self._held[key] = self._entry(lease, sent)
                self._cond.notify_all()
            taken.append(lease)
        return taken

    def held(self) -> dict[str, Lease]:
        """The leases held now, by key (none past its deadline)."""
        now = self._clock()
        with self._cond:
            return {key: h.lease for key, h in sorted(self._held.items()) if now < h.deadline}

    def lease(self, key: str) -> Lease | None:
        """The lease on `key` if held now."""
        now = self._clock()
        with self._cond:
            h = self._held.get(key)
            return h.lease if h is not None and now < h.deadline else None

    def holds(self, key: str) -> bool:
        return self.lease(key) is not None

    def release(self, key: str) -> None:
        """Give `key` up (in the store too, where it can be reached; else it lapses)."""
        with self._cond:
            h = self._held.pop(key, None)
            self._cond.notify_all()
        if h is not None:
            self._release_in_store(h.lease)

    def release_all(self) -> None:
        """Give every lease up; once the store cannot be reached, the rest lapse by themselves."""
        with self._cond:
            gone, self._held = list(self._held.values()), {}
            self._cond.notify_all()
        for h in gone:
            if not self._release_in_store(h.lease):
                break

    # --- the supervisor's child ---------------------------------------------------------

    def start(self) -> None:
        """Start the renewing and the watching thread (again, after they ended)."""
        if any(t.is_alive() for t in self._threads):
            return
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._renew_loop, name="lease-renewal", daemon=True),
            threading.Thread(target=self._watch_loop, name="lease-watch", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop both threads, then release every lease held."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        self.release_all()

    def join(self, timeout_s: float | None = None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))
        return not any(t.is_alive() for t in self._threads)

    @property
    def done(self) -> bool:
        return bool(self._threads) and not any(t.is_alive() for t in self._threads)

    @property
    def death(self) -> Death | None:
        if not self.done or self._stopping.is_set():
            return None
        return Death("the lease keeper's threads ended unexpectedly")

    # --- inside -------------------------------------------------------------------------

    def _entry(self, lease: Lease, sent: float) -> _Held:
        return _Held(lease, sent + lease.ttl_s - self._margin_s, sent + self._renew_every_s)

    def _renew_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._renew_due()
            except Exception:  # a bug: what is not renewed is dropped in time by the watch
                log.exception("lease renewal failed unexpectedly")
            with self._cond:
                now = self._clock()
                next_at = min((h.renew_at for h in self._held.values()), default=now + WAKE_S)
                if next_at > now and not self._stopping.is_set():
                    self._cond.wait(min(next_at - now, WAKE_S))

    def _renew_due(self) -> None:
        """Renew every lease due, soonest deadline first, RENEW_BATCH at a time in one call to
        the store; the first call the store does not answer puts them all off by a short retry."""
        now = self._clock()
        with self._cond:
            due = sorted((h for h in self._held.values() if h.renew_at <= now), key=lambda h: h.deadline)
        for start in range(0, len(due), RENEW_BATCH):
            if self._stopping.is_set():
                return
            batch = due[start : start + RENEW_BATCH]
            sent = self._clock()
            try:
                renewed = self._store.renew_many([h.lease for h in batch])
            except Unavailable as exc:
                self._store_away(exc)
                retry_at = self._clock() + self._retry_s
                with self._cond:
                    for late in due[start:]:
                        late.renew_at = retry_at
                return
            self._store_back()
            for h, lease in zip(batch, renewed, strict=True):
                self._renewed(h, lease, sent)

    def _renewed(self, before: _Held, renewed: Lease | None, sent: float) -> None:
        key = before.lease.key
        with self._cond:
            current = self._held.get(key)
            if current is before:
                if renewed is None:
                    del self._held[key]
                else:
                    self._held[key] = self._entry(renewed, sent)
                self._cond.notify_all()
        if current is before and renewed is None:
            self._lost(key, "the store refused its renewal: it lapsed, perhaps taken")
        elif current is None and renewed is not None:
            self._release_in_store(renewed)  # given up (or lapsed by our clock) while renewing

    def _watch_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                lapsed = self._wait_for_deadline()
            except Exception:
                log.exception("lease watch failed unexpectedly")
                self._stopping.wait(WAKE_S)
                continue
            for key in lapsed:
                self._lost(key, f"not renewed within {self._ttl_s - self._margin_s:.1f} s")

    def _wait_for_deadline(self) -> list[str]:
        """The keys past their deadline, dropped; else waits for the next deadline (or news)."""
        with self._cond:
            now = self._clock()
            lapsed = [key for key, h in self._held.items() if h.deadline <= now]
            for key in lapsed:
                del self._held[key]
            if not lapsed and not self._stopping.is_set():
                next_at = min((h.deadline for h in self._held.values()), default=now + WAKE_S)
                self._cond.wait(min(max(next_at - now, 0.0), WAKE_S))
            return lapsed

    def _lost(self, key: str, why: str) -> None:
        log.warning("lease %s lost (%s); this process stops acting on it", key, why)
        with self._cond:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(key)
            except Exception:  # a listener's bug must not keep the others from hearing
                log.exception("lease %s: a listener of its loss failed", key)

    def _release_in_store(self, lease: Lease) -> bool:
        """Whether the store could be asked (if not, the lease lapses within its TTL)."""
        try:
            self._store.release(lease)
        except Unavailable as exc:
            log.info("lease %s not released (%s); it lapses within %.0f s", lease.key, exc, lease.ttl_s)
            return False
        return True

    def _store_away(self, exc: Unavailable) -> None:
        if self._away is None:
            log.warning("lease store unreachable (%s): leases not renewed in time are given up", exc)
        self._away = str(exc)

    def _store_back(self) -> None:
        if self._away is not None:
            log.info("lease store reachable again")
        self._away = None
