"""The event bus's contract, held by both adapters: in process (the embedded default) and NATS
JetStream (a real nats-server of each test's own, file storage, `sync_interval: always`).
Then what only a server can show: a crash and a restart lose nothing acknowledged, and a
publish the server cannot take fails loudly, within its timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from citywatch.bus.connect import connect_bus
from citywatch.bus.embedded import EmbeddedBus
from citywatch.bus.fanout import FanOut
from citywatch.bus.jetstream import STREAM, JetStreamBus
from citywatch.cluster.nats import NatsClient
from citywatch.cluster.servers import NatsServer, free_port
from citywatch.domain.bus import BusMessage, Consumer, EventBus, Outgoing
from citywatch.domain.errors import InvalidInput, Unavailable

ACK_WAIT_S = 1.0
SIGHTINGS = "citywatch.sightings.>"


@pytest.fixture(params=["embedded", "jetstream"])
def bus(request: pytest.FixtureRequest) -> Iterator[EventBus]:
    if request.param == "embedded":
        made: EventBus = EmbeddedBus()
    else:
        server: NatsServer = request.getfixturevalue("nats_server")
        made = JetStreamBus(NatsClient(server.url), publish_timeout_s=2.0, owns_client=True)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def jetstream(nats_server: NatsServer) -> Iterator[JetStreamBus]:
    made = JetStreamBus(NatsClient(nats_server.url), publish_timeout_s=1.0, owns_client=True)
    try:
        yield made
    finally:
        made.close()


def collect(consumer: Consumer, count: int, *, within_s: float = 10.0, ack: bool = True) -> list[BusMessage]:
    """Fetch until `count` messages came (acking each) or the time is up."""
    got: list[BusMessage] = []
    deadline = time.monotonic() + within_s
    while len(got) < count and time.monotonic() < deadline:
        for message in consumer.fetch(max_messages=count - len(got), timeout_s=0.5):
            got.append(message)
            if ack:
                message.ack()
    return got


def eventually(check: Callable[[], bool], *, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def publish_sightings(bus: EventBus, count: int, *, prefix: str = "s", camera: str = "cam1") -> list[str]:
    ids = [f"{prefix}{number}" for number in range(count)]
    for msg_id in ids:
        bus.publish(f"citywatch.sightings.{camera}", msg_id.encode(), msg_id=msg_id)
    return ids


# delivery to a work queue


def test_each_message_is_delivered_once_and_never_again_once_acked(bus: EventBus) -> None:
    bus.publish("citywatch.sightings.cam1", b"first", msg_id="s1", headers={"Content-Type": "x/sighting"})
    consumer = bus.consumer("store", [SIGHTINGS], ack_wait_s=ACK_WAIT_S)  # made after: still delivered
    bus.publish("citywatch.segments.cam1", b"not for it", msg_id="g1")
    bus.publish("citywatch.sightings.cam2", b"second", msg_id="s2")
    got = collect(consumer, 2)
    assert [(m.subject, m.payload, m.msg_id, m.deliveries) for m in got] == [
        ("citywatch.sightings.cam1", b"first", "s1", 1),
        ("citywatch.sightings.cam2", b"second", "s2", 1),
    ]
    assert dict(got[0].headers) == {"Content-Type": "x/sighting"} and dict(got[1].headers) == {}
    assert consumer.fetch(max_messages=10, timeout_s=ACK_WAIT_S + 0.5) == []


def test_an_unacknowledged_message_comes_again_after_the_ack_wait(bus: EventBus) -> None:
    consumer = bus.consumer("store", [SIGHTINGS], ack_wait_s=ACK_WAIT_S)
    publish_sightings(bus, 1)
    first = collect(consumer, 1, ack=False)
    started = time.monotonic()
    assert consumer.fetch(timeout_s=0.3) == []  # not before its ack wait
    again = collect(consumer, 1, within_s=5.0)
    assert time.monotonic() - started > ACK_WAIT_S * 0.7
    assert [(m.msg_id, m.deliveries) for m in first + again] == [("s0", 1), ("s0", 2)]
    assert consumer.fetch(timeout_s=ACK_WAIT_S + 0.5) == []


def test_a_second_publish_with_the_same_id_is_dropped_as_a_duplicate(bus: EventBus) -> None:
    consumer = bus.consumer("store", [SIGHTINGS], ack_wait_s=ACK_WAIT_S)
    bus.publish("citywatch.sightings.cam1", b"original", msg_id="dup")
    bus.publish("citywatch.sightings.cam1", b"retry", msg_id="dup")  # no error
    bus.publish_many(
        [
            Outgoing("citywatch.sightings.cam1", b"batched", "dup"),
            Outgoing("citywatch.sightings.cam1", b"new", "n1"),
        ]
    )
    got = collect(consumer, 3, within_s=1.0)
    assert [(m.msg_id, m.payload) for m in got] == [("dup", b"original"), ("n1", b"new")]


def test_consumers_sharing_a_durable_name_split_its_messages(bus: EventBus) -> None:
    first = bus.consumer("store", [SIGHTINGS], ack_wait_s=ACK_WAIT_S)
    second = bus.consumer("store", [SIGHTINGS], ack_wait_s=ACK_WAIT_S)
    ids = publish_sightings(bus, 20)
    taken: dict[str, list[str]] = {"first": [], "second": []}
    for _ in range(5):  # turn about, a few each
        for name, consumer in (("first", first), ("second", second)):
            for message in consumer.fetch(max_messages=2, timeout_s=1.0):
                taken[name].append(message.msg_id)
                message.ack()
    assert taken["first"] and taken["second"]
    assert sorted(taken["first"] + taken["second"]) == sorted(ids)
    assert first.fetch(timeout_s=ACK_WAIT_S + 0.5) == [] and second.fetch(timeout_s=0.2) == []


def test_consumers_fetching_at_once_get_every_message_once(bus: EventBus) -> None:
    ids = publish_sightings(bus, 60)
    taken: list[str] = []
    lock = threading.Lock()

    def drain(consumer: Consumer) -> None:
        while len(taken) < len(ids):
            for message in consumer.fetch(max_messages=3, timeout_s=0.3):
                message.ack()
                with lock:
                    taken.append(message.msg_id)

    threads = [
        threading.Thread(target=drain, args=(bus.consumer("store", [SIGHTINGS], ack_wait_s=5.0),))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15.0)
    assert sorted(taken) == sorted(ids)


def test_order_is_kept_per_subject(bus: EventBus) -> None:
    consumer = bus.consumer("store", [SIGHTINGS], ack_wait_s=5.0)
    for number in range(30):
        for camera in ("cam1", "cam2", "cam3"):
            bus.publish(f"citywatch.sightings.{camera}", str(number).encode(), msg_id=f"{camera}-{number}")
    got = collect(consumer, 90)
    for camera in ("cam1", "cam2", "cam3"):
        seen = [int(m.payload) for m in got if m.subject.endswith(camera)]
        assert seen == list(range(30))


def test_nak_delivers_again_term_never_and_max_deliver_stops_it(bus: EventBus) -> None:
    consumer = bus.consumer("store", [SIGHTINGS], ack_wait_s=30.0, max_deliver=3)
    publish_sightings(bus, 2)
    first, other = collect(consumer, 2, ack=False)
    other.term()
    first.nak()
    (again,) = collect(consumer, 1, ack=False, within_s=3.0)
    assert (again.msg_id, again.deliveries) == ("s0", 2)
    started = time.monotonic()
    again.nak(delay_s=0.6)
    (third,) = collect(consumer, 1, ack=False, within_s=3.0)
    assert time.monotonic() - started > 0.4 and (third.msg_id, third.deliveries) == ("s0", 3)
    third.nak()  # delivered as often as allowed: it stops; the terminated one never came back
    assert consumer.fetch(timeout_s=1.0) == []


def test_lag_counts_what_waits_and_what_is_out(bus: EventBus) -> None:
    consumer = bus.consumer("store", [SIGHTINGS], ack_wait_s=30.0)
    publish_sightings(bus, 3)
    bus.publish("citywatch.alerts", b"elsewhere", msg_id="a1")
    assert consumer.lag().pending == 3
    fetched = collect(consumer, 2, ack=False)
    lag = consumer.lag()
    assert (lag.pending, lag.in_flight, lag.total) == (1, 2, 3)
    for message in fetched:
        message.ack()
    assert eventually(lambda: consumer.lag().in_flight == 0)


# fan-out to listeners


class Heard:
    def __init__(self) -> None:
        self.messages: list[BusMessage] = []
        self.lock = threading.Lock()

    def __call__(self, message: BusMessage) -> None:
        with self.lock:
            self.messages.append(message)

    @property
    def ids(self) -> list[str]:
        with self.lock:
            return [message.msg_id for message in self.messages]


def test_every_listener_gets_every_message_in_order_from_when_it_listens(bus: EventBus) -> None:
    bus.publish("citywatch.alerts", b"before", msg_id="a-before")
    one, two = Heard(), Heard()
    first = bus.listen(["citywatch.alerts"], one)
    second = bus.listen(["citywatch.alerts", "citywatch.changes.>"], two)
    ids = [f"a{number}" for number in range(20)]
    for msg_id in ids:
        bus.publish("citywatch.alerts", msg_id.encode(), msg_id=msg_id)
    bus.publish("citywatch.changes.gallery", b"g", msg_id="c1")
    bus.publish("citywatch.sightings.cam1", b"not listened to", msg_id="s1")
    assert eventually(lambda: len(one.ids) >= 20 and len(two.ids) >= 21)
    time.sleep(0.2)  # anything more would have come by now
    assert one.ids == ids and two.ids == [*ids, "c1"]
    assert all(m.deliveries == 1 for m in one.messages)
    first.close()
    bus.publish("citywatch.alerts", b"after", msg_id="a-after")
    assert eventually(lambda: two.ids[-1:] == ["a-after"])
    assert one.ids == ids
    second.close()


def test_a_failing_handler_does_not_end_its_listener(bus: EventBus) -> None:
    heard = Heard()

    def handler(message: BusMessage) -> None:
        heard(message)
        if message.msg_id == "a0":
            raise RuntimeError("a handler's bug")

    subscription = bus.listen(["citywatch.alerts"], handler)
    for number in range(3):
        bus.publish("citywatch.alerts", b"x", msg_id=f"a{number}")
    assert eventually(lambda: heard.ids == ["a0", "a1", "a2"])
    subscription.close()


@pytest.mark.parametrize(
    ("subject", "msg_id", "headers"),
    [
        ("elsewhere.alerts", "a", None),
        ("citywatch", "a", None),
        ("citywatch.alerts.*", "a", None),
        ("citywatch.al erts", "a", None),
        ("citywatch.alerts", "", None),
        ("citywatch.alerts", "has space", None),
        ("citywatch.alerts", "a", {"Nats-Msg-Id": "b"}),
        ("citywatch.alerts", "a", {"X-Note": "line\nbreak"}),
    ],
)
def test_a_message_the_bus_cannot_carry_is_refused(
    bus: EventBus, subject: str, msg_id: str, headers: dict[str, str] | None
) -> None:
    with pytest.raises(InvalidInput):
        bus.publish(subject, b"x", msg_id=msg_id, headers=headers)


# only a server: crashes, restarts, outages


def drain(consumer: Consumer, *, within_s: float = 20.0) -> list[BusMessage]:
    """Fetch (and ack) until nothing more comes within an ack wait, riding out reconnection."""
    got: list[BusMessage] = []
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            batch = consumer.fetch(max_messages=100, timeout_s=ACK_WAIT_S + 0.5)
        except Unavailable:
            continue  # not reconnected yet
        if not batch:
            return got
        for message in batch:
            message.ack()
        got.extend(batch)
    raise AssertionError("the consumer did not come to an end")


@pytest.mark.parametrize("how", ["restart", "crash"])
def test_nothing_acknowledged_is_lost_when_the_server_goes_down(
    nats_server: NatsServer, jetstream: JetStreamBus, how: str
) -> None:
    consumer = jetstream.consumer("store", [SIGHTINGS], ack_wait_s=ACK_WAIT_S)
    heard = Heard()
    jetstream.listen(["citywatch.alerts"], heard)
    expected = publish_sightings(jetstream, 50)
    jetstream.publish_many([Outgoing("citywatch.sightings.cam2", b"b", f"b{n}") for n in range(50)])
    expected += [f"b{n}" for n in range(50)]
    jetstream.publish("citywatch.alerts", b"a", msg_id="a-before")
    assert eventually(lambda: heard.ids == ["a-before"])
    acked_before = [message.msg_id for message in collect(consumer, 10)]
    assert eventually(lambda: consumer.lag().in_flight == 0)  # the server has the acks
    if how == "crash":
        nats_server.kill()  # SIGKILL: no clean shutdown
        nats_server.start()
    else:
        nats_server.restart()
    delivered = acked_before + [message.msg_id for message in drain(consumer)]
    assert set(delivered) == set(expected)  # every acknowledged publish: nothing lost
    twice = sorted({msg_id for msg_id in delivered if delivered.count(msg_id) > 1})
    if how == "restart":
        assert twice == []
    else:  # a consumer's acks are not fsynced one by one: a crash may deliver them again
        assert set(twice) <= set(acked_before)
    jetstream.publish("citywatch.alerts", b"a", msg_id="a-after")  # the listener outlived its consumer
    assert eventually(lambda: heard.ids == ["a-before", "a-after"], within_s=10.0)


def test_a_listener_whose_handler_falls_behind_hears_everything_later_in_order(
    jetstream: JetStreamBus,
) -> None:
    release, heard = threading.Event(), Heard()

    def slow(message: BusMessage) -> None:
        release.wait(10.0)
        heard(message)

    listener = FanOut(jetstream.client, STREAM, ("citywatch.alerts",), slow, capacity=3)
    listener.start(timeout_s=2.0)
    ids = [f"a{number}" for number in range(30)]
    jetstream.publish_many([Outgoing("citywatch.alerts", b"x", msg_id) for msg_id in ids])
    time.sleep(0.3)  # its queue overflowed long ago
    release.set()
    assert eventually(lambda: len(heard.ids) >= 30, within_s=10.0)
    time.sleep(0.2)
    assert heard.ids == ids
    listener.close()


def test_a_publish_while_the_server_is_down_fails_within_its_timeout_then_works_again(
    nats_server: NatsServer, jetstream: JetStreamBus
) -> None:
    consumer = jetstream.consumer("store", [SIGHTINGS], ack_wait_s=ACK_WAIT_S)
    nats_server.stop()
    started = time.monotonic()
    with pytest.raises(Unavailable):
        jetstream.publish("citywatch.sightings.cam1", b"while down", msg_id="down")
    assert time.monotonic() - started < jetstream.publish_timeout_s + 1.5
    with pytest.raises(Unavailable):
        consumer.fetch(timeout_s=0.5)
    nats_server.start()
    deadline = time.monotonic() + 10.0
    while True:  # the publisher's retry, with the same id, until the client is back
        try:
            jetstream.publish("citywatch.sightings.cam1", b"while down", msg_id="down")
            break
        except Unavailable:
            assert time.monotonic() < deadline, "the client did not reconnect"
    jetstream.publish("citywatch.sightings.cam1", b"after", msg_id="after")
    got = collect(consumer, 2, within_s=3.0) + consumer.fetch(timeout_s=0.5)
    assert [m.msg_id for m in got] == ["down", "after"]  # once, whether the first try landed or not


def test_the_stream_has_a_deployments_settings_and_the_setting_chooses_the_bus(
    nats_server: NatsServer,
) -> None:
    assert isinstance(connect_bus(""), EmbeddedBus)
    made = connect_bus(nats_server.url)
    try:
        assert isinstance(made, JetStreamBus)
        client = NatsClient(nats_server.url)
        info = client.call(lambda: client.jetstream.stream_info(STREAM))
        client.close()
        config = info.config
        assert (config.subjects, config.storage, config.retention, config.discard) == (
            ["citywatch.>"],
            "file",
            "limits",
            "new",
        )
        assert (config.duplicate_window, config.num_replicas, config.max_age) == (120.0, 1, 86400.0)
    finally:
        made.close()
    again = connect_bus(nats_server.url)  # the stream exists: updated, not refused
    again.close()
    with pytest.raises(Unavailable):
        connect_bus(f"nats://127.0.0.1:{free_port()}", connect_timeout_s=1.0)


# only in process: its limits


def test_the_in_process_bus_drops_only_what_every_consumer_is_past_to_make_room() -> None:
    bus = EmbeddedBus(max_bytes=4 * (1024 + 100))
    consumer = bus.consumer("store", [SIGHTINGS], ack_wait_s=5.0)
    bus.publish_many([Outgoing("citywatch.sightings.cam1", b"x" * 1024, f"s{n}") for n in range(4)])
    with pytest.raises(Unavailable):  # full of what nobody has consumed: refused, not dropped
        bus.publish("citywatch.sightings.cam1", b"x" * 1024, msg_id="s4")
    for message in collect(consumer, 2):
        assert message.msg_id in {"s0", "s1"}
    bus.publish_many([Outgoing("citywatch.sightings.cam1", b"x" * 1024, f"s{n}") for n in (4, 5)])
    assert [m.msg_id for m in collect(consumer, 4, within_s=1.0)] == ["s2", "s3", "s4", "s5"]
    bus.close()


def test_the_in_process_bus_forgets_old_messages_and_old_ids() -> None:
    bus = EmbeddedBus(max_age_s=0.3, duplicate_window_s=0.3)
    bus.publish("citywatch.sightings.cam1", b"old", msg_id="s0")
    time.sleep(0.4)
    consumer = bus.consumer("store", [SIGHTINGS], ack_wait_s=5.0)
    bus.publish("citywatch.sightings.cam1", b"again", msg_id="s0")  # past the window: a new message
    assert [(m.msg_id, m.payload) for m in collect(consumer, 2, within_s=0.5)] == [("s0", b"again")]
    bus.close()
