"""Leases kept in this process, for one process tree on one machine (the default, with no
`bus`): thread-safe, lapsing by a monotonic clock (injectable), tokens from one counter that
only grows, as a NATS KV bucket's revisions do."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from citywatch.domain.errors import InvalidInput
from citywatch.domain.leases import DEFAULT_TTL_S, Lease, check_holder, check_key, check_prefix


@dataclass(frozen=True, slots=True)
class _Entry:
    holder: str
    token: int
    revision: int
    expires_at: float


class EmbeddedLeases:
    """A `LeaseStore` in memory."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, *, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0:
            raise InvalidInput(f"a lease TTL must be positive, not {ttl_s}")
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._revision = 0

    @property
    def ttl_s(self) -> float:
        return self._ttl_s

    def close(self) -> None:
        """Nothing to close: the leases lapse with the process."""

    def acquire(self, key: str, holder: str) -> Lease | None:
        check_key(key)
        check_holder(holder)
        with self._lock:
            entry = self._live(key)
            if entry is not None and entry.holder != holder:
                return None
            token = None if entry is None else entry.token
            return self._write(key, holder, token)

    def renew(self, lease: Lease) -> Lease | None:
        check_key(lease.key)
        with self._lock:
            entry = self._live(lease.key)
            if entry is None or (entry.holder, entry.token) != (lease.holder, lease.token):
                return None
            return self._write(lease.key, lease.holder, lease.token)

    def renew_many(self, leases: Sequence[Lease]) -> list[Lease | None]:
        return [self.renew(lease) for lease in leases]

    def release(self, lease: Lease) -> None:
        check_key(lease.key)
        with self._lock:
            entry = self._live(lease.key)
            if entry is not None and (entry.holder, entry.token) == (lease.holder, lease.token):
                del self._entries[lease.key]

    def holder(self, key: str) -> Lease | None:
        check_key(key)
        with self._lock:
            entry = self._live(key)
            return None if entry is None else self._lease(key, entry)

    def holders(self, prefix: str = "") -> dict[str, Lease]:
        check_prefix(prefix)
        with self._lock:
            live = {key: self._live(key) for key in list(self._entries) if key.startswith(prefix)}
            return {key: self._lease(key, entry) for key, entry in sorted(live.items()) if entry is not None}

    def _live(self, key: str) -> _Entry | None:
        """The entry of `key` unless it has lapsed (a lapsed one is dropped)."""
        entry = self._entries.get(key)
        if entry is not None and self._clock() >= entry.expires_at:
            del self._entries[key]
            return None
        return entry

    def _write(self, key: str, holder: str, token: int | None) -> Lease:
        self._revision += 1
        entry = _Entry(holder, token or self._revision, self._revision, self._clock() + self._ttl_s)
        self._entries[key] = entry
        return self._lease(key, entry)

    def _lease(self, key: str, entry: _Entry) -> Lease:
        return Lease(key, entry.holder, entry.token, entry.revision, self._ttl_s)
