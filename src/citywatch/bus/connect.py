"""The event bus the `bus` setting names: in process when empty, NATS JetStream for a URL."""

from __future__ import annotations

from citywatch.bus.embedded import EmbeddedBus
from citywatch.bus.jetstream import JetStreamBus
from citywatch.cluster.nats import NatsClient
from citywatch.domain.bus import EventBus


def connect_bus(
    url: str,
    *,
    name: str = "citywatch",
    replicas: int = 1,
    publish_timeout_s: float = 5.0,
    connect_timeout_s: float = 5.0,
) -> EventBus:
    """The in-process bus for "" (one process tree on one machine); for `nats://…`, JetStream
    over a connection of the bus's own, its stream created or updated (`replicas`: 3 in a
    deployment). Raises `Unavailable` when NATS cannot be reached."""
    if not url:
        return EmbeddedBus()
    client = NatsClient(url, name=name, connect_timeout_s=connect_timeout_s)
    try:
        return JetStreamBus(client, replicas=replicas, publish_timeout_s=publish_timeout_s, owns_client=True)
    except BaseException:
        client.close()
        raise
