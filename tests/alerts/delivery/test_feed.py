"""The live alert feed: alerts reach subscribers only once committed, in bounded queues, from
any thread, with the outbox's own payload."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from citywatch.alerts.delivery.feed import AlertFeed, FeedClosed
from citywatch.alerts.delivery.message import AlertMessage, alert_message
from citywatch.alerts.delivery.outbox import Backoff, Outbox
from citywatch.config.delivery import MqttSinkSettings
from citywatch.domain.errors import Conflict
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.db import open_database
from citywatch.store.sighting_tables import Alert
from tests.fakes.stores import Stores, StoresLike
from tests.store.helpers import a_match, db_url, sighting

T = datetime(2026, 1, 1, 12, tzinfo=UTC)


def store_with(tmp_path: Path, hook: object) -> Stores:
    db = open_database(db_url(tmp_path / "citywatch.db"))
    return Stores(db, LocalBlobStore(tmp_path / "blobs"), on_alert=hook)  # type: ignore[arg-type]


def raise_alert(store: StoresLike, *, camera_id: str = "gate-1", track_id: int = 1) -> int:
    """One matched sighting of a new person (no cooldown merges it), with its alert."""
    if not store.watchlists.list_watchlists():
        store.watchlists.create_watchlist("wanted")
    wanted = store.watchlists.get_watchlist("wanted")
    name = f"Person {camera_id} {track_id}"
    person = store.watchlists.add_person("wanted", name)
    record = sighting(
        camera_id=camera_id, track_id=track_id, match=a_match(person.id, wanted.id, person_name=name)
    )
    saved = store.sightings.add_sighting(record)
    assert saved.alert_id is not None
    return saved.alert_id


def message(alert_id: int, camera: str = "gate-1") -> AlertMessage:
    return alert_message(alert_id, "match", "high", camera, "Ann", "wanted", 0.3, T)


def test_an_alert_is_published_once_its_transaction_has_committed(tmp_path: Path) -> None:
    feed = AlertFeed()
    sub = feed.subscribe()
    seen_inside: list[AlertMessage | None] = []

    def hook(session: Session, alert: Alert) -> None:
        feed.stage(session, alert)
        seen_inside.append(sub.get(timeout_s=0))  # still inside the transaction: nothing yet

    store = store_with(tmp_path, hook)
    alert_id = raise_alert(store)
    assert seen_inside == [None]
    got = sub.get(timeout_s=1)
    assert got is not None and got.id == alert_id
    assert (got.camera, got.person, got.watchlist, got.type) == (
        "gate-1",
        "Person gate-1 1",
        "wanted",
        "alert.created",
    )
    assert sub.get(timeout_s=0) is None  # once
    assert feed.counts().published == 1


def test_a_rolled_back_alert_is_never_published(tmp_path: Path) -> None:
    feed = AlertFeed()
    sub = feed.subscribe()
    fail = [True]

    def hook(session: Session, alert: Alert) -> None:
        feed.stage(session, alert)
        if fail[0]:
            raise Conflict("the outbox could not be written")  # the whole transaction rolls back

    store = store_with(tmp_path, hook)
    with pytest.raises(Conflict):
        raise_alert(store, track_id=1)
    assert store.alerts.list_alerts() == []
    assert sub.get(timeout_s=0.2) is None
    fail[0] = False
    alert_id = raise_alert(store, track_id=2)  # the next one, committed, arrives alone
    got = sub.get(timeout_s=1)
    assert got is not None and got.id == alert_id
    assert sub.get(timeout_s=0.1) is None


def test_the_feed_sends_the_outboxs_payload(tmp_path: Path) -> None:
    """One message builder: the SSE data is byte for byte the body the sinks get."""
    feed = AlertFeed(base_url="https://cw.example")
    db = open_database(db_url(tmp_path / "citywatch.db"))
    outbox = Outbox(
        db,
        [MqttSinkSettings(name="mqtt")],
        backoff=Backoff(3, 1, 10),
        clock=lambda: datetime.now(UTC),
        base_url="https://cw.example",
    )

    def hook(session: Session, alert: Alert) -> None:
        outbox.write(session, alert)
        feed.stage(session, alert)

    sub = feed.subscribe()
    store = Stores(db, LocalBlobStore(tmp_path / "blobs"), on_alert=hook)
    raise_alert(store)
    got = sub.get(timeout_s=1)
    assert got is not None
    [row] = outbox.entries()
    assert got.to_json() == row.body
    assert "crop" not in row.body and "template" not in row.body


def test_a_slow_subscriber_is_dropped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    feed = AlertFeed(capacity=3)
    slow = feed.subscribe(name="slow")
    fast = feed.subscribe(name="fast")
    received = []
    with caplog.at_level(logging.WARNING, logger="citywatch.alerts.delivery.feed"):
        for i in range(1, 6):
            feed.publish(message(i))
            got = fast.get(timeout_s=0)
            assert got is not None
            received.append(got.id)
    assert received == [1, 2, 3, 4, 5]
    assert slow.closed is not None and "fell 3 alerts behind" in slow.closed
    with pytest.raises(FeedClosed):
        slow.get(timeout_s=0)
    assert fast.closed is None
    assert feed.counts().dropped_subscribers == 1
    assert list(feed.counts().subscribers.values()) == [fast.name]
    [record] = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert "slow#1" in record.getMessage() and "3 alerts unread" in record.getMessage()


def test_a_subscriber_gets_only_what_it_may_see() -> None:
    feed = AlertFeed()
    gate = feed.subscribe(lambda m: m.camera == "gate-1")
    feed.publish(message(1, "hall-2"))
    feed.publish(message(2, "gate-1"))
    got = gate.get(timeout_s=0)
    assert got is not None and got.id == 2
    assert gate.get(timeout_s=0) is None


def test_many_camera_threads_publish_and_an_asyncio_reader_gets_every_alert_once(tmp_path: Path) -> None:
    """Camera workers raise alerts through the store from their own threads; a reader on an
    event loop (as the web server is) receives each committed alert exactly once."""
    feed = AlertFeed(capacity=10_000)
    store = store_with(tmp_path, feed.stage)
    store.watchlists.create_watchlist("wanted")
    threads_n, each = 6, 5
    raised: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def camera(n: int) -> None:
        try:
            for i in range(each):
                alert_id = raise_alert(store, camera_id=f"cam-{n}", track_id=i + 1)
                with lock:
                    raised.append(alert_id)
            for i in range(50):  # and plain publishes, many at once
                feed.publish(message(100_000 + n * 1000 + i, f"cam-{n}"))
        except BaseException as exc:
            errors.append(exc)

    async def read(sub_count: int) -> list[int]:
        sub = feed.subscribe()
        workers = [threading.Thread(target=camera, args=(n,)) for n in range(threads_n)]
        for w in workers:
            w.start()
        got: list[int] = []
        while len(got) < sub_count:
            m = await sub.next(timeout_s=5)
            assert m is not None, f"only {len(got)} of {sub_count} arrived; errors: {errors!r}"
            got.append(m.id)
        for w in workers:
            await asyncio.to_thread(w.join)
        assert await sub.next(timeout_s=0.1) is None
        return got

    got = asyncio.run(read(threads_n * (each + 50)))
    assert not errors
    assert len(got) == len(set(got))
    assert set(raised) <= set(got)
    assert {m for m in got if m < 100_000} == set(raised)


def test_closing_the_feed_ends_every_subscription() -> None:
    feed = AlertFeed()
    sub = feed.subscribe()

    async def wait() -> None:
        with pytest.raises(FeedClosed, match="stopping"):
            await sub.next(timeout_s=5)

    async def main() -> None:
        waiter = asyncio.create_task(wait())
        await asyncio.sleep(0.05)
        await asyncio.to_thread(feed.close, "stopping")
        await asyncio.wait_for(waiter, 1)

    asyncio.run(main())
    late = feed.subscribe()
    assert late.closed == "stopping"


def test_a_stale_wake_up_does_not_end_the_wait_early() -> None:
    """An alert taken by another look leaves its wake-up behind; the asyncio reader must keep
    waiting for the next alert, not return 'nothing came'."""
    feed = AlertFeed()
    sub = feed.subscribe()

    async def scenario() -> AlertMessage | None:
        assert await sub.next(timeout_s=0) is None  # bound to this loop
        feed.publish(message(1))  # its wake-up is queued on the loop...
        first = sub.get(timeout_s=0)  # ...but the alert is taken without it
        assert first is not None and first.id == 1
        threading.Timer(0.2, lambda: feed.publish(message(2))).start()
        return await sub.next(timeout_s=5)

    got = asyncio.run(scenario())
    assert got is not None and got.id == 2
