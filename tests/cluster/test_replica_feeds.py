"""Several API replicas behind a proxy: every replica's live feed delivers every alert a store
process commits, through a real JetStream (a NATS server of the test's own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.cluster.servers import NatsServer
from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime
from citywatch.runtime.city import feed_from_bus, relay_alerts
from tests.store.helpers import a_match, sighting, vector


@pytest.fixture
def runtimes(tmp_path: Path, nats_server: NatsServer) -> Iterator[tuple[Runtime, Runtime, Runtime]]:
    made = [Runtime(Settings(data_dir=tmp_path / name, bus=nats_server.url)) for name in ("store", "a", "b")]
    yield made[0], made[1], made[2]
    for runtime in made:
        runtime.close()


def test_every_replica_delivers_every_alert(runtimes: tuple[Runtime, Runtime, Runtime]) -> None:
    store, replica_a, replica_b = runtimes
    store.watchlists.create_watchlist("wanted")
    store.watchlists.add_person("wanted", "Ann Example")
    relay_alerts(store, store.bus)
    feeds = [feed_from_bus(r, r.bus) for r in (replica_a, replica_b)]
    readers = [r.feed.subscribe(name=f"console of {n}") for n, r in (("a", replica_a), ("b", replica_b))]
    try:
        raised = [
            store.sightings.add_sighting(
                sighting(camera_id=camera, match=a_match(1, 1), template=vector(1))
            ).alert_id
            for camera in ("gate", "yard", "dock")
        ]
        assert None not in raised
        for reader in readers:
            got = []
            while len(got) < len(raised):
                message = reader.get(timeout_s=10)
                assert message is not None, f"{reader.name} got {got} of {raised}"
                got.append(message.id)
            assert got == raised  # each replica: every alert, once, in order
    finally:
        for feed in feeds:
            feed.close()
