"""Leases in a NATS KV bucket, for a city of processes and machines (`bus: nats://…`).

The bucket's TTL is the lease TTL: a key not written again within it lapses (JetStream's
max age), and the next `create` takes it. Every write is conditional on the key's last
revision (compare-and-set), so only the holder renews or releases, and a revision is the
stream's sequence, which only grows: the revision at acquisition is the fencing token. The
bucket keeps one revision per key in file storage; give it replicas (3 in a deployment) so
that the leases survive a server.

A value is `{"holder": …, "token": …}` (the token from the first renewal on), so that a
holder whose renewal was applied but whose answer was lost still knows the key for its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import KV_PRE_TEMPLATE, KV_STREAM_TEMPLATE
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.errors import Error as JetStreamError
from nats.js.kv import KeyValue

from citywatch.cluster.nats import NatsClient
from citywatch.domain.errors import InvalidInput, Unavailable
from citywatch.domain.leases import DEFAULT_TTL_S, Lease, check_holder, check_key, check_prefix

log = logging.getLogger(__name__)

T = TypeVar("T")

BUCKET = "citywatch_leases"
_WRONG_LAST_SEQUENCE = (10071, 10164)
"""JetStream's error codes for a compare-and-set that found another revision."""


class NatsLeases:
    """A `LeaseStore` in the KV bucket `bucket`, created if missing (file storage, one
    revision per key, the TTL `ttl_s`). Where the bucket exists with another TTL, that TTL
    is the leases' (it is what the server applies), with a warning. Each call is limited to
    `timeout_s` (a quarter of the TTL by default)."""

    def __init__(
        self,
        client: NatsClient,
        ttl_s: float = DEFAULT_TTL_S,
        *,
        bucket: str = BUCKET,
        replicas: int = 1,
        timeout_s: float | None = None,
        owns_client: bool = False,
    ) -> None:
        if ttl_s <= 0:
            raise InvalidInput(f"a lease TTL must be positive, not {ttl_s}")
        self._client = client
        self._owns_client = owns_client
        self._bucket = bucket
        self._timeout_s = timeout_s if timeout_s is not None else min(ttl_s / 4, 5.0)
        """Each call's limit: well inside the TTL, so that a holder whose server is away hears
        so in time to renew again (or give up) before its lease lapses."""
        self._kv, self._ttl_s = client.call(
            lambda: _open_bucket(client, bucket, ttl_s, replicas), timeout_s=max(self._timeout_s, 5.0)
        )

    @property
    def ttl_s(self) -> float:
        return self._ttl_s

    def close(self) -> None:
        """Close the connection, where it is this store's own (`owns_client`)."""
        if self._owns_client:
            self._client.close()

    def acquire(self, key: str, holder: str) -> Lease | None:
        check_key(key)
        check_holder(holder)
        return self._call(lambda: self._acquire(key, holder))

    def renew(self, lease: Lease) -> Lease | None:
        check_key(lease.key)
        return self._call(lambda: self._renew(lease))

    def renew_many(self, leases: Sequence[Lease]) -> list[Lease | None]:
        for lease in leases:
            check_key(lease.key)

        async def renew_all() -> list[Lease | None]:
            return list(await asyncio.gather(*(self._renew(lease) for lease in leases)))

        return self._call(renew_all)

    def release(self, lease: Lease) -> None:
        check_key(lease.key)
        self._call(lambda: self._release(lease))

    def holder(self, key: str) -> Lease | None:
        check_key(key)
        return self._call(lambda: self._current(key), at_least_s=5.0)

    def holders(self, prefix: str = "") -> dict[str, Lease]:
        check_prefix(prefix)
        return self._call(lambda: self._holders(prefix), at_least_s=5.0)

    def _call(self, make: Callable[[], Awaitable[T]], *, at_least_s: float = 0.0) -> T:
        """`make()` on the client's loop within the call limit (reads, which no lease waits
        on, within `at_least_s`)."""
        return self._client.call(make, timeout_s=max(self._timeout_s, at_least_s))

    async def _acquire(self, key: str, holder: str) -> Lease | None:
        for _ in range(2):  # a key that lapses between create and get: once more
            try:
                revision = await self._kv.create(key, _value(holder))
            except (KeyWrongLastSequenceError, KeyNotFoundError):
                pass  # held; or lapsing as create looked (it found no message behind the refusal)
            else:
                return Lease(key, holder, revision, revision, self._ttl_s)
            current = await self._current(key)
            if current is not None:
                # held: by another, or by this holder (asked twice, or its create's answer was lost)
                return await self._write(current) if current.holder == holder else None
        return None

    async def _renew(self, lease: Lease) -> Lease | None:
        renewed = await self._write(lease)
        if renewed is not None:
            return renewed
        current = await self._current(lease.key)
        if current is None or (current.holder, current.token) != (lease.holder, lease.token):
            return None  # lapsed, and perhaps taken
        return await self._write(current)  # still ours: a renewal whose answer was lost moved it on

    async def _write(self, lease: Lease) -> Lease | None:
        """Write the lease again at its revision (compare-and-set); None if the key moved."""
        try:
            revision = await self._kv.update(
                lease.key, _value(lease.holder, lease.token), last=lease.revision
            )
        except KeyWrongLastSequenceError:
            return None
        return Lease(lease.key, lease.holder, lease.token, revision, self._ttl_s)

    async def _release(self, lease: Lease) -> None:
        current = await self._current(lease.key)
        if current is None or (current.holder, current.token) != (lease.holder, lease.token):
            return
        try:
            await self._kv.delete(lease.key, last=current.revision)
        except JetStreamError as exc:
            if getattr(exc, "err_code", None) not in _WRONG_LAST_SEQUENCE:
                raise
            # moved on meanwhile: lapsed and taken, or renewed by a call still in flight

    async def _current(self, key: str) -> Lease | None:
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:  # never written, lapsed, or released (a delete marker)
            return None
        return _lease(key, entry.value, entry.revision, self._ttl_s)

    async def _holders(self, prefix: str) -> dict[str, Lease]:
        """The keys under `prefix` from the stream's subjects, then each key's entry (a KV
        watch's end-of-snapshot marker can come before the entries: nats-py 2.16)."""
        subjects = f"{KV_PRE_TEMPLATE.format(bucket=self._bucket)}{prefix}>"
        info = await self._client.jetstream.stream_info(
            KV_STREAM_TEMPLATE.format(bucket=self._bucket), subjects_filter=subjects
        )
        keys = sorted(subject.split(".", 2)[2] for subject in info.state.subjects or {})
        found = await asyncio.gather(*(self._current(key) for key in keys))
        return {lease.key: lease for lease in found if lease is not None}


async def _open_bucket(
    client: NatsClient, bucket: str, ttl_s: float, replicas: int
) -> tuple[KeyValue, float]:
    """The bucket and the TTL the server applies to it, created if missing."""
    js = client.jetstream
    try:
        kv = await js.key_value(bucket)
    except BucketNotFoundError:
        config = KeyValueConfig(
            bucket=bucket, history=1, ttl=ttl_s, storage=StorageType.FILE, replicas=replicas
        )
        try:
            return await js.create_key_value(config), ttl_s
        except JetStreamError:  # made by another process meanwhile (perhaps with another TTL)
            kv = await js.key_value(bucket)
    status = await kv.status()
    actual = status.ttl
    if not actual:
        raise Unavailable(f"the lease bucket {bucket!r} exists without a TTL: its leases would never lapse")
    if abs(actual - ttl_s) > 1e-3:
        log.warning(
            "lease bucket %s: its TTL is %.1f s (not %.1f s), and so the leases'", bucket, actual, ttl_s
        )
    return kv, float(actual)


def _value(holder: str, token: int | None = None) -> bytes:
    body: dict[str, str | int] = {"holder": holder}
    if token is not None:
        body["token"] = token
    return json.dumps(body).encode()


def _lease(key: str, value: bytes | None, revision: int | None, ttl_s: float) -> Lease | None:
    """The lease a KV entry holds (None: not one of ours, unreadable)."""
    if revision is None or not value:
        return None
    try:
        body = json.loads(value)
        holder, token = str(body["holder"]), int(body.get("token", revision))
    except (ValueError, TypeError, KeyError):
        log.warning("lease %s: unreadable value at revision %d", key, revision)
        return None
    return Lease(key, holder, token, revision, ttl_s)
