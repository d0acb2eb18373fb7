"""The lease store the `bus` setting names: in this process when empty, NATS KV for a URL."""

from __future__ import annotations

import os

from citywatch.cluster.nats import NatsClient
from citywatch.domain.leases import DEFAULT_TTL_S, LeaseStore
from citywatch.leases.embedded import EmbeddedLeases
from citywatch.leases.nats_kv import NatsLeases


def open_leases(bus: str, *, ttl_s: float = DEFAULT_TTL_S, replicas: int = 1) -> LeaseStore:
    """The embedded store for "" (one process tree on one machine: it gets every lease); for
    `nats://…`, the KV bucket over a connection of the store's own (`replicas`: 3 in a
    deployment). Raises `Unavailable` when NATS cannot be reached."""
    if not bus:
        return EmbeddedLeases(ttl_s)
    client = NatsClient(bus, name=f"citywatch-leases-{os.getpid()}")
    try:
        return NatsLeases(client, ttl_s, replicas=replicas, owns_client=True)
    except BaseException:
        client.close()
        raise
