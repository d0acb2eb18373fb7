"""A city on this machine, as separate processes on real engines: two `citywatch worker`s and a
`citywatch store` on a NATS server of the test's own and a fresh PostgreSQL database, two
cameras replaying the Hamilton clip with Lin-Manuel Miranda enrolled.

Faults: a worker paused (SIGSTOP) past its lease loses its cameras to the other worker within
the lease TTL + 5 s, and once resumed (SIGCONT) writes nothing more for them (fencing);
a worker killed (SIGKILL) has its cameras run by the other within the TTL + 5 s. No sighting
is stored twice (each has its source key), and each camera's sightings come from its
holders' tokens only, each from the moment that holder took it."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.bus.connect import connect_bus
from citywatch.cluster.messages import encode_sighting, origin_of, sighting_subject
from citywatch.cluster.servers import NatsServer
from tests.integration.city_helpers import CAMERAS, FAILOVER_S, City, city_on, sightings, token_of, wait_for
from tests.store.helpers import sighting


@pytest.fixture
def city(
    tmp_path: Path, shared_data: Path, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[City]:
    with city_on(tmp_path, shared_data, nats_server, monkeypatch) as town:
        yield town


@pytest.mark.slow
def test_workers_share_the_cameras_and_take_over_a_paused_or_killed_ones(city: City) -> None:
    city.start("store", "store")
    city.start("a", "worker", "--capacity", "2")
    wait_for("worker a to hold both cameras", lambda: city.held_by("a") == set(CAMERAS), city)
    wait_for("sightings of both cameras", lambda: {c for c, _k in sightings(city)} == set(CAMERAS), city)
    city.start("b", "worker", "--capacity", "2")
    time.sleep(3)  # b is up and finds nothing free
    assert city.held_by("b") == set()
    first = {c: lease.token for c, lease in city.holders().items()}

    city.processes["a"].send_signal(signal.SIGSTOP)  # paused past its lease
    took = wait_for("b to take a's cameras", lambda: city.held_by("b") == set(CAMERAS), city)
    assert took < FAILOVER_S
    second = {c: lease.token for c, lease in city.holders().items()}
    assert all(second[c] > first[c] for c in CAMERAS)
    wait_for(
        "sightings under b's tokens",
        lambda: {c for c, k in sightings(city) if token_of(k) == second[c]} == set(CAMERAS),
        city,
    )
    before_resume = len(sightings(city))
    city.processes["a"].send_signal(signal.SIGCONT)  # it wakes up believing nothing happened
    time.sleep(5)
    late = [(c, k) for c, k in sightings(city)[before_resume:] if token_of(k) == first[c]]
    assert late == []  # nothing of a's reached the store after b took over
    assert city.held_by("a") == set()

    city.processes["b"].kill()  # and b dies: a, still running, takes the cameras back
    took = wait_for("a to take the cameras back", lambda: city.held_by("a") == set(CAMERAS), city)
    assert took < FAILOVER_S
    third = {c: lease.token for c, lease in city.holders().items()}
    wait_for(
        "sightings under a's new tokens",
        lambda: {c for c, k in sightings(city) if token_of(k) == third[c]} == set(CAMERAS),
        city,
    )
    keys = [k for _c, k in sightings(city)]
    assert len(keys) == len(set(keys))  # nothing stored twice
    assert {token_of(k) for c, k in sightings(city)} <= set(first.values()) | set(second.values()) | set(
        third.values()
    )


def test_a_store_consumer_killed_mid_batch_stores_every_sighting_once(city: City) -> None:
    bus = connect_bus(city.nats.url)
    try:
        sent = []
        now = datetime.now(UTC)  # recent: the store's purge, which runs at its start, keeps them
        for n in range(1000):
            record = sighting(camera_id="north", track_id=n, start=now - timedelta(seconds=n))
            origin = origin_of(record, 1)
            bus.publish(sighting_subject("north"), encode_sighting(record, origin), msg_id=origin.key)
            sent.append(origin.key)
    finally:
        bus.close()
    city.start("store", "store", "--ack-wait", "2")
    wait_for("the first sightings stored", lambda: len(sightings(city)) >= 40, city)
    city.processes["store"].kill()  # mid-batch: some stored and acknowledged, one perhaps stored only
    city.processes["store"].wait()
    partial = len(sightings(city))
    assert partial < len(sent)
    city.start("store-again", "store", "--ack-wait", "2")
    wait_for("every sighting stored", lambda: len(sightings(city)) >= len(sent), city)
    time.sleep(3)  # anything redelivered meanwhile has landed too
    keys = [k for _c, k in sightings(city)]
    assert sorted(keys) == sorted(sent)  # each exactly once
