"""Leases: which process may act for a camera or run a singleton job now, for how long, and
the fencing token that tells a newer holder from an older one. Pure vocabulary: the stores
(in this process, or a NATS KV bucket) are in `citywatch.leases`.

A lease on `key` is held by one holder at a time until its TTL passes without a renewal.
Its `token` is the store's revision when it was acquired: a later holder of the key always
has a higher token, so whatever a holder writes under its token can be refused once a newer
one exists (fencing). A holder that cannot renew must assume, by its own clock and before the
TTL passes, that it has lost the lease (`citywatch.leases.keeper`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from citywatch.domain.errors import InvalidInput

DEFAULT_TTL_S = 10.0
"""How long a lease lasts without a renewal: a dead holder's cameras and jobs move to another
process within about this (plus the time the other takes to ask)."""

CAMERA = "camera"
SINGLETON = "singleton"
"""The kinds of lease: a camera's (`camera.<id>`), a job one process runs at a time
(`singleton.<name>`)."""

MAX_KEY = 255
_KEY_PART = r"[A-Za-z0-9_=/-]+"
_KEY = re.compile(rf"{_KEY_PART}(\.{_KEY_PART})*")
"""A key as NATS KV takes it: tokens of letters, digits, `_ = / -`, joined by dots, none
empty (no leading, trailing or double dot)."""
_PLAIN = re.compile(r"[A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease as its store last confirmed it."""

    key: str
    holder: str
    token: int
    """The fencing token: the store's revision when this holder acquired the key. Renewals
    keep it; a later holder's is higher."""
    revision: int
    """The store's revision of the latest acquisition or renewal (changes on each renewal)."""
    ttl_s: float
    """How long after its latest renewal the lease lapses in the store."""


class LeaseStore(Protocol):
    """Where leases are kept. Every call checks its key (`InvalidInput` for a bad one); a
    store that cannot be reached raises `Unavailable`."""

    @property
    def ttl_s(self) -> float:
        """How long a lease lasts without a renewal."""
        ...

    def acquire(self, key: str, holder: str) -> Lease | None:
        """The lease on `key` for `holder`; None while someone else holds it. Asking again
        for a key one already holds renews it (same token)."""
        ...

    def renew(self, lease: Lease) -> Lease | None:
        """The lease renewed for another TTL (same token, a new revision); None when it is
        lost: it lapsed, and perhaps another holds the key now."""
        ...

    def renew_many(self, leases: Sequence[Lease]) -> list[Lease | None]:
        """`renew` of each lease, in one go (a process holding hundreds renews them together,
        not one round trip after another); the answers in the same order."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the key up at once, if the lease is still this one; otherwise nothing."""
        ...

    def holder(self, key: str) -> Lease | None:
        """Who holds `key` now (None: nobody)."""
        ...

    def holders(self, prefix: str = "") -> dict[str, Lease]:
        """Every lease held now whose key starts with `prefix` ("" or ending in a dot:
        `camera.`), by key."""
        ...

    def close(self) -> None:
        """Let go of the store's connection, if it has one (the leases lapse or were released)."""
        ...


def check_key(key: str) -> str:
    """`key` if a store can take it; else `InvalidInput`, saying why."""
    if not key or len(key) > MAX_KEY or _KEY.fullmatch(key) is None:
        raise InvalidInput(
            f"bad lease key {key!r}: dot-separated tokens of letters, digits, _ = / - "
            f"(no empty token), at most {MAX_KEY} characters"
        )
    return key


def check_prefix(prefix: str) -> str:
    """`prefix` if it selects whole tokens ("" or a key and a dot); else `InvalidInput`."""
    if prefix and (not prefix.endswith(".") or _KEY.fullmatch(prefix[:-1]) is None):
        raise InvalidInput(f"bad lease key prefix {prefix!r}: empty, or a key followed by a dot")
    return prefix


def check_holder(holder: str) -> str:
    """A holder's name: one printable line, at most 200 characters."""
    if not holder or len(holder) > 200 or not holder.isprintable():
        raise InvalidInput(f"bad lease holder {holder!r}: one printable line of at most 200 characters")
    return holder


def lease_key(kind: str, name: str) -> str:
    """The key of `kind`'s lease on `name` (any camera id or job name, encoded into one token:
    characters other than letters, digits, `_` and `-` as `=XX`)."""
    if not name:
        raise InvalidInput(f"a {kind} lease needs a name")
    token = "".join(c if _PLAIN.fullmatch(c) else "".join(f"={b:02X}" for b in c.encode()) for c in name)
    return check_key(f"{kind}.{token}")


def key_name(key: str) -> str:
    """The name `lease_key` encoded into `key`'s last token."""
    token = check_key(key).rsplit(".", 1)[-1]
    try:
        return re.sub(rb"=([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), token.encode()).decode()
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"lease key {key!r} does not name anything") from exc


def camera_key(camera_id: str) -> str:
    """The key of a camera's lease: `camera.<id>`."""
    return lease_key(CAMERA, camera_id)


def singleton_key(name: str) -> str:
    """The key of a singleton job's lease: `singleton.<name>`."""
    return lease_key(SINGLETON, name)
