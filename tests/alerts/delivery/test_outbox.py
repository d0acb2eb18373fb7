"""The outbox itself: written in the alert's transaction, a payload without biometric data,
backoff as a table, dead-lettering and an audited replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from citywatch.alerts.delivery.dispatcher import Dispatcher
from citywatch.alerts.delivery.message import Message
from citywatch.alerts.delivery.outbox import Backoff, Outbox, OutboxStatus
from citywatch.alerts.delivery.sink import DeliveryFailed
from citywatch.config.delivery import MqttSinkSettings, WebhookSinkSettings
from citywatch.domain.errors import Conflict, NotFound
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.sighting_tables import Alert, OutboxRow, Sighting
from tests.alerts.delivery.conftest import SECRET, deploy, raise_alerts
from tests.fakes.stores import Stores

FAST = Backoff(max_attempts=3, initial_s=0.0001, max_s=0.001)
SINKS = [
    MqttSinkSettings(name="hass", port=1),
    WebhookSinkSettings(name="control-room", url="http://127.0.0.1:1/x", secret=SECRET),
]


class FlakySink:
    """Fails the first `failures` sends, then takes everything."""

    def __init__(self, name: str, failures: int) -> None:
        self.name = name
        self.failures = failures
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryFailed(f"{self.name}: receiver down")
        self.sent.append(message)

    def start(self) -> None:
        pass

    def probe(self) -> str:
        return "ok"

    def close(self) -> None:
        pass


def test_one_row_per_sink_with_the_alert_and_no_biometric_data(tmp_path: Path) -> None:
    d = deploy(tmp_path, SINKS, FAST)
    [alert_id] = raise_alerts(d.store, 1, camera_id="gate-1")
    rows = d.outbox.entries()
    assert sorted((r.sink, r.topic, r.status) for r in rows) == [
        ("control-room", "alert.created", OutboxStatus.PENDING),
        ("hass", "citywatch/gate-1/alerts", OutboxStatus.PENDING),
    ]
    body = json.loads(rows[0].body)
    assert set(body) == {
        "type",
        "id",
        "kind",
        "severity",
        "camera",
        "person",
        "watchlist",
        "distance",
        "time",
        "url",
    }
    assert body["id"] == alert_id and body["url"] == f"/alerts/{alert_id}"
    assert body["camera"] == "gate-1" and body["watchlist"] == "wanted" and body["kind"] == "match"
    assert all(r.alert_id == alert_id for r in rows)


def test_no_sinks_no_rows(tmp_path: Path) -> None:
    d = deploy(tmp_path, [], FAST)
    raise_alerts(d.store, 2)
    assert d.outbox.entries() == []


def test_a_rolled_back_alert_leaves_no_outbox_row(tmp_path: Path) -> None:
    d = deploy(tmp_path, SINKS, FAST)
    raise_alerts(d.store, 1)  # the watchlist and a first alert exist

    def write_then_fail(session: Session, alert: Alert) -> None:
        d.outbox.write(session, alert)
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 4  # written, same session
        raise RuntimeError("the alert's transaction fails after the outbox rows were added")

    failing = Stores(d.store.db, LocalBlobStore(tmp_path / "blobs"), on_alert=write_then_fail)
    with pytest.raises(RuntimeError):
        raise_alerts(failing, 1)
    with d.store.db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 2
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
        assert session.scalar(select(func.count()).select_from(Sighting)) == 1


@pytest.mark.parametrize(
    ("attempts", "expected_s"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0), (10, 600.0), (50, 600.0)],
)
def test_backoff_doubles_up_to_its_cap(attempts: int, expected_s: float) -> None:
    assert Backoff(max_attempts=10, initial_s=2.0, max_s=600.0).delay_s(attempts) == expected_s


def test_retries_then_delivers(tmp_path: Path) -> None:
    d = deploy(tmp_path, SINKS[:1], Backoff(max_attempts=5, initial_s=0.0001, max_s=0.001))
    raise_alerts(d.store, 2)
    sink = FlakySink("hass", failures=2)
    dispatcher = Dispatcher(d.outbox, {"hass": sink})
    for _ in range(20):
        dispatcher.run_once()
    assert {r.status for r in d.outbox.entries()} == {OutboxStatus.DELIVERED}
    assert len(sink.sent) == 2
    assert dispatcher.counts == {"failed": 2, "delivered": 2}
    # the second row waited out the first one's failure without an attempt of its own
    assert sorted(r.attempts for r in d.outbox.entries()) == [1, 3]


class BuggySink(FlakySink):
    """Fails as a library might when it breaks its own contract (not a DeliveryFailed)."""

    def send(self, message: Message) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ValueError("invalid status line from the receiver")
        self.sent.append(message)


def test_an_unexpected_sink_error_is_a_failed_attempt_not_the_end_of_delivery(tmp_path: Path) -> None:
    d = deploy(tmp_path, SINKS[:1], Backoff(max_attempts=5, initial_s=0.0001, max_s=0.001))
    raise_alerts(d.store, 1)
    sink = BuggySink("hass", failures=1)
    heard: list[int] = []

    def listener(entry: object) -> None:
        heard.append(1)
        raise RuntimeError("a listener's bug")

    dispatcher = Dispatcher(d.outbox, {"hass": sink}, on_delivered=listener)  # type: ignore[arg-type]
    for _ in range(20):
        dispatcher.run_once()
    (row,) = d.outbox.entries()
    assert row.status is OutboxStatus.DELIVERED and row.attempts == 2
    assert len(sink.sent) == 1 and heard == [1]
    assert dispatcher.counts == {"failed": 1, "delivered": 1}


def test_dead_after_max_attempts_then_replay_delivers(tmp_path: Path) -> None:
    d = deploy(tmp_path, SINKS[:1], FAST)
    raise_alerts(d.store, 1)
    sink = FlakySink("hass", failures=3)
    dispatcher = Dispatcher(d.outbox, {"hass": sink})
    for _ in range(10):
        dispatcher.run_once()
    [dead] = d.outbox.entries(OutboxStatus.DEAD)
    assert dead.attempts == 3 and dead.last_error == "hass: receiver down"
    assert dispatcher.counts == {"failed": 2, "dead": 1}
    assert d.outbox.claim() == []  # a dead row is never sent on its own

    with pytest.raises(NotFound):
        d.outbox.replay([dead.id + 100])
    assert d.outbox.replay(None) == [dead.id]
    [event] = d.audited
    assert event.action == "outbox.replay" and event.params["ids"] == [dead.id]
    dispatcher.run_once()
    [row] = d.outbox.entries()
    assert row.status is OutboxStatus.DELIVERED and row.attempts == 1 and row.delivered_at is not None
    assert [m.key for m in sink.sent] == [f"citywatch-outbox-{row.id}"]
    with pytest.raises(Conflict, match="delivered"):
        d.outbox.replay([row.id])


def test_a_row_for_a_sink_no_longer_configured_is_dead_lettered_not_dropped(tmp_path: Path) -> None:
    d = deploy(tmp_path, SINKS[:1], FAST)
    raise_alerts(d.store, 1)
    dispatcher = Dispatcher(d.outbox, {})
    for _ in range(5):
        dispatcher.run_once()
    [row] = d.outbox.entries()
    assert row.status is OutboxStatus.DEAD and "not configured" in (row.last_error or "")


def test_claimed_rows_are_leased_to_one_dispatcher(tmp_path: Path) -> None:
    d = deploy(tmp_path, SINKS[:1], FAST)
    raise_alerts(d.store, 3)
    assert len(d.outbox.claim()) == 3
    assert d.outbox.claim() == []  # a second process finds them leased
    later = Outbox(d.store.db, SINKS[:1], backoff=FAST, clock=lambda: datetime(2100, 1, 1, tzinfo=UTC))
    assert len(later.claim()) == 3  # a crashed dispatcher's lease runs out


def test_outbox_rows_go_with_their_alert(tmp_path: Path) -> None:
    """A message names a person, a camera and a time: when the purge (or an authorisation's
    lapse) deletes the alert, its outbox rows go in the same statement."""
    d = deploy(tmp_path, SINKS, FAST)
    first, second = raise_alerts(d.store, 2)
    with d.store.db.session() as session:
        session.execute(delete(Alert).where(Alert.id == first))
    assert {r.alert_id for r in d.outbox.entries()} == {second}
