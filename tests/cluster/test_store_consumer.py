"""The store consumer and its messages: each sighting over the bus is stored exactly once, a
sighting under a superseded lease token is refused, a malformed message is dropped with why,
a store that is away leaves the message to be delivered again, and a fetched batch is stored
in one transaction, each message settled by its own sighting's outcome after the commit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.exc import OperationalError

from citywatch.bus.embedded import EmbeddedBus
from citywatch.cluster.consumer import SightingConsumer
from citywatch.cluster.messages import decode_sighting, encode_sighting, origin_of, sighting_subject
from citywatch.config.settings import Settings
from citywatch.domain.errors import Fenced, InvalidInput, Unavailable
from citywatch.runtime.build import Runtime
from citywatch.store import sighting_queries
from tests.databases import metadata_sql
from tests.sightings.helpers import crop_files, crop_paths, ended_authorisation
from tests.store.helpers import a_match, sighting, vector

ACK_WAIT_S = 0.5


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    runtime.watchlists.create_watchlist("wanted")
    runtime.watchlists.add_person("wanted", "Ann Example")
    yield runtime
    runtime.close()


@pytest.fixture
def bus() -> Iterator[EmbeddedBus]:
    embedded = EmbeddedBus()
    yield embedded
    embedded.close()


def publish(bus: EmbeddedBus, token: int, **kw: object) -> str:
    record = sighting(**kw)  # type: ignore[arg-type]
    origin = origin_of(record, token)
    bus.publish(sighting_subject(record.camera_id), encode_sighting(record, origin), msg_id=origin.key)
    return origin.key


def rows(tmp_path: Path) -> list[tuple[str, str]]:
    db = metadata_sql(tmp_path / "data")
    return [
        tuple(r) for r in db.execute("select camera_id, source_key from sightings order by id").fetchall()
    ]


def test_a_message_carries_the_record_whole() -> None:
    record = sighting(camera_id="gate.1", template=vector(3), match=a_match(1, 1))
    origin = origin_of(record, 42)
    back, back_origin = decode_sighting(encode_sighting(record, origin))
    assert back_origin == origin and origin.token == 42
    assert back.template is not None and record.template is not None
    assert np.array_equal(back.template, record.template)
    assert (back.match, back.crop_jpeg, back.started_at) == (
        record.match,
        record.crop_jpeg,
        record.started_at,
    )
    assert sighting_subject("gate.1") == "citywatch.sightings.gate=2E1"  # one subject token
    for bad in (b"not json", b'{"v": 99}', b'{"v": 1}'):
        with pytest.raises(InvalidInput):
            decode_sighting(bad)


def test_each_sighting_is_stored_once_however_often_it_is_delivered(
    rt: Runtime, bus: EmbeddedBus, tmp_path: Path
) -> None:
    consumer = SightingConsumer(bus, rt.sightings, ack_wait_s=ACK_WAIT_S)
    key = publish(bus, 7, track_id=1)
    assert consumer.run_once() == 1
    record = sighting(track_id=1)  # the worker publishes it again (its ack was lost): a new message id
    bus.publish(
        sighting_subject("cam-1"), encode_sighting(record, origin_of(record, 7)), msg_id="retry-" + key
    )
    assert consumer.run_once() == 1
    assert rows(tmp_path) == [("cam-1", key)]
    assert (consumer.counts.stored, consumer.counts.duplicates) == (1, 1)
    assert consumer.consumer.lag().total == 0


def test_a_sighting_under_a_superseded_lease_token_is_refused(
    rt: Runtime, bus: EmbeddedBus, tmp_path: Path
) -> None:
    consumer = SightingConsumer(bus, rt.sightings, ack_wait_s=ACK_WAIT_S)
    new = publish(bus, 12, track_id=1)  # the camera's new holder
    publish(bus, 11, track_id=2)  # its old holder, which lost the lease
    publish(bus, 5, camera_id="cam-2", track_id=3)  # another camera's fence is its own
    assert consumer.run_once() == 3
    assert [key for camera, key in rows(tmp_path) if camera == "cam-1"] == [new]
    assert (consumer.counts.stored, consumer.counts.fenced) == (2, 1)
    with pytest.raises(Fenced):
        record = sighting(track_id=9)
        rt.sightings.add_sighting(record, origin_of(record, 3))
    assert consumer.consumer.lag().total == 0  # refused for good: never delivered again


def test_a_matched_sighting_raises_its_alert_once(rt: Runtime, bus: EmbeddedBus) -> None:
    consumer = SightingConsumer(bus, rt.sightings, ack_wait_s=ACK_WAIT_S)
    publish(bus, 1, match=a_match(1, 1), template=vector(1))
    record = sighting(match=a_match(1, 1), template=vector(1))
    bus.publish(sighting_subject("cam-1"), encode_sighting(record, origin_of(record, 1)), msg_id="again")
    assert consumer.run_once() == 2
    assert len(rt.alerts.list_alerts()) == 1


def test_a_malformed_message_is_dropped_and_the_rest_stored(
    rt: Runtime, bus: EmbeddedBus, tmp_path: Path
) -> None:
    consumer = SightingConsumer(bus, rt.sightings, ack_wait_s=ACK_WAIT_S)
    bus.publish("citywatch.sightings.cam-1", b"{not json", msg_id="garbage")
    key = publish(bus, 1)
    assert consumer.run_once() == 2
    assert rows(tmp_path) == [("cam-1", key)]
    assert consumer.counts.malformed == 1 and consumer.consumer.lag().total == 0


def test_while_the_store_is_away_messages_wait_and_are_stored_later(
    rt: Runtime, bus: EmbeddedBus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = SightingConsumer(bus, rt.sightings, ack_wait_s=ACK_WAIT_S)
    first, second = publish(bus, 1, track_id=1), publish(bus, 1, track_id=2)

    def away(*_args: object, **_kw: object) -> object:
        raise Unavailable("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(rt.sightings, "add_sightings", away)
        assert consumer.run_once() == 2
    assert rows(tmp_path) == [] and consumer.counts.retried == 2
    monkeypatch.setattr("citywatch.cluster.consumer.RETRY_S", 0.0)
    deadline_rounds = 50
    while len(rows(tmp_path)) < 2 and deadline_rounds:
        consumer.run_once(timeout_s=0.2)
        deadline_rounds -= 1
    assert sorted(key for _c, key in rows(tmp_path)) == sorted([first, second])


def test_one_batch_settles_each_message_by_its_own_outcome(
    rt: Runtime, bus: EmbeddedBus, tmp_path: Path
) -> None:
    consumer = SightingConsumer(bus, rt.sightings, ack_wait_s=ACK_WAIT_S)
    assert rt.sightings.raise_fence("cam-1", 5)
    good = publish(bus, 5, track_id=1)
    publish(bus, 4, track_id=2)  # the camera's previous holder: fenced
    closed = replace(sighting(camera_id="cam-2", track_id=3), authorisation_id=ended_authorisation(rt))
    bus.publish(sighting_subject("cam-2"), encode_sighting(closed, origin_of(closed, 1)), msg_id="closed")
    bus.publish("citywatch.sightings.cam-1", b"{not json", msg_id="garbage")
    record = sighting(track_id=1)  # the good one again, published twice by its worker
    bus.publish(sighting_subject("cam-1"), encode_sighting(record, origin_of(record, 5)), msg_id="again")
    matched = publish(bus, 1, camera_id="cam-2", track_id=4, match=a_match(1, 1), template=vector(1))

    assert consumer.run_once() == 6

    counts = consumer.counts
    assert (counts.stored, counts.duplicates, counts.fenced, counts.withheld, counts.malformed) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert counts.retried == 0 and consumer.consumer.lag().total == 0
    assert rows(tmp_path) == [("cam-1", good), ("cam-2", matched)]
    assert len(rt.alerts.list_alerts()) == 1
    assert crop_files(rt) == crop_paths(rt) and len(crop_files(rt)) == 2  # none of the refused


def test_a_batch_is_acknowledged_only_once_it_committed(
    rt: Runtime, bus: EmbeddedBus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = SightingConsumer(bus, rt.sightings, ack_wait_s=ACK_WAIT_S)
    keys = [publish(bus, 1, track_id=t) for t in range(1, 4)]
    insert = sighting_queries.insert_sighting
    inserted: list[int] = []

    def away_at_the_third(session: object, row: object) -> object:
        inserted.append(1)
        if len(inserted) == 3:  # the first two are in the transaction already
            raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return insert(session, row)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(sighting_queries, "insert_sighting", away_at_the_third)
        patch.setattr(sighting_queries, "insert_sightings", away_mid_insert)  # the batch in one insert
        assert consumer.run_once() == 3
    assert rows(tmp_path) == [] and consumer.counts.retried == 3 and consumer.counts.stored == 0
    assert consumer.consumer.lag().total == 3  # none acknowledged: all delivered again
    monkeypatch.setattr("citywatch.cluster.consumer.RETRY_S", 0.0)
    rounds = 50
    while consumer.consumer.lag().total and rounds:
        consumer.run_once(timeout_s=0.2)
        rounds -= 1
    assert sorted(key for _c, key in rows(tmp_path)) == sorted(keys)
    assert consumer.counts.stored == 3 and crop_files(rt) == crop_paths(rt)


def away_mid_insert(session: object, rows: object) -> list[int]:
    """The batch's one insert, cut off by a server that closed the connection."""
    raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
