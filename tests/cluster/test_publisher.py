"""A worker's sightings go onto the bus from the publisher's own thread, in batches: what is
put comes out once each, in order; what the bus did not acknowledge (its server down) is sent
again when it is back, nothing lost and nothing twice; what is no longer valid by the time it
is sent (its camera's lease lost) is dropped; and past its limit `put` refuses at once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from citywatch.bus.embedded import EmbeddedBus
from citywatch.bus.jetstream import JetStreamBus
from citywatch.cluster.nats import NatsClient
from citywatch.cluster.publisher import Publisher
from citywatch.cluster.servers import NatsServer
from citywatch.domain.bus import Outgoing
from citywatch.domain.errors import Unavailable
from tests.contracts.test_bus import collect, drain, eventually

SIGHTINGS = "citywatch.sightings.>"


def message(n: int, camera: str = "cam1") -> Outgoing:
    return Outgoing(f"citywatch.sightings.{camera}", f"sighting {n}".encode(), f"m{n}")


@pytest.fixture
def publisher() -> Iterator[tuple[Publisher, EmbeddedBus]]:
    bus = EmbeddedBus()
    made = Publisher(bus, batch=7)
    made.start()
    try:
        yield made, bus
    finally:
        made.stop()
        made.join(5)


def test_what_is_put_comes_out_once_each_in_order(publisher: tuple[Publisher, EmbeddedBus]) -> None:
    sender, bus = publisher
    consumer = bus.consumer("store", [SIGHTINGS])
    for n in range(50):
        sender.put(message(n))
    got = [m.msg_id for m in collect(consumer, 50)]
    assert got == [f"m{n}" for n in range(50)]
    assert eventually(lambda: sender.counts.sent == 50 and sender.waiting() == 0)


def test_what_is_no_longer_valid_when_sent_is_dropped(publisher: tuple[Publisher, EmbeddedBus]) -> None:
    sender, bus = publisher
    consumer = bus.consumer("store", [SIGHTINGS])
    for n in range(10):
        sender.put(message(n), valid=lambda n=n: n % 2 == 0)  # type: ignore[misc]
    got = [m.msg_id for m in collect(consumer, 5)]
    assert got == ["m0", "m2", "m4", "m6", "m8"]
    assert eventually(lambda: sender.counts.dropped == 5)
    assert collect(consumer, 1, within_s=0.5) == []


def test_past_its_limit_put_refuses_and_a_stopped_publisher_takes_nothing() -> None:
    sender = Publisher(EmbeddedBus(), limit=3)  # not started: nothing is sent
    for n in range(3):
        sender.put(message(n))
    with pytest.raises(Unavailable, match="wait for the bus"):
        sender.put(message(3))
    sender.stop()
    with pytest.raises(Unavailable, match="stopping"):
        sender.put(message(4))


def test_while_the_server_is_down_messages_wait_and_all_go_once_it_is_back(nats_server: NatsServer) -> None:
    bus = JetStreamBus(NatsClient(nats_server.url), publish_timeout_s=1.0, owns_client=True)
    sender = Publisher(bus, retry_s=0.2)
    sender.start()
    try:
        consumer = bus.consumer("store", [SIGHTINGS], ack_wait_s=2.0)
        for n in range(20):
            sender.put(message(n))
        assert eventually(lambda: sender.counts.sent == 20)
        nats_server.stop()
        for n in range(20, 60):
            sender.put(message(n))  # never waits for the server
        assert sender.waiting() > 0
        time.sleep(2.5)  # past the publish timeout: batches fail and wait to be sent again
        assert sender.waiting() == 40
        nats_server.start()
        assert eventually(lambda: sender.waiting() == 0, within_s=30)
        got = [m.msg_id for m in drain(consumer)]
        assert sorted(got) == sorted(f"m{n}" for n in range(60))  # nothing lost, nothing twice
        assert sender.counts.retries >= 1
    finally:
        sender.stop()
        sender.join(5)
        bus.close()
