"""MQTT against Mosquitto on localhost: a private one (started, killed and restarted on its
own port, so the machine's broker is never disturbed) for a broker restart in the middle of
a run, a broker down at start and the test-sink probe; and the machine's own broker on 1883.
Delivery is at least once: every alert arrives on both topics; a repeat (a PUBACK lost in
the restart) is allowed and carries the same `id`."""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from pathlib import Path

import paho.mqtt.publish as publish
import pytest

from citywatch.alerts.delivery.dispatcher import Dispatcher
from citywatch.alerts.delivery.message import Message
from citywatch.alerts.delivery.mqtt import MqttSink
from citywatch.alerts.delivery.outbox import Backoff, OutboxStatus
from citywatch.alerts.delivery.sink import DeliveryFailed
from citywatch.config.delivery import MqttSinkSettings
from tests.alerts.delivery.conftest import Broker, Deployment, Subscriber, deploy, raise_alerts, wait_until

TOPICS = ["citywatch/alerts", "citywatch/gate-1/alerts"]
RETRY = Backoff(max_attempts=100, initial_s=0.2, max_s=1.0)


def mqtt_sink(broker: Broker) -> tuple[MqttSinkSettings, MqttSink]:
    settings = MqttSinkSettings(name="hass", port=broker.port, publish_timeout_s=1, keepalive_s=5)
    return settings, MqttSink(settings, reconnect_min_s=1, reconnect_max_s=2)


def all_arrived(sub: Subscriber, alert_ids: list[int]) -> bool:
    return all(set(alert_ids) <= set(sub.ids(topic)) for topic in TOPICS)


def check_payloads(sub: Subscriber, d: Deployment, alert_ids: list[int]) -> None:
    alerts = {a.id: a for a in d.store.alerts.list_alerts(limit=100)}
    for topic in TOPICS:
        for payload in sub.received[topic]:
            alert = alerts[payload["id"]]
            assert payload["person"] == alert.person_name and payload["camera"] == "gate-1"
            assert payload["url"] == f"/alerts/{alert.id}" and payload["type"] == "alert.created"
            assert "crop" not in json.dumps(payload) and "template" not in payload
        assert set(sub.ids(topic)) == set(alert_ids)


def test_broker_restart_in_the_middle_of_a_run(tmp_path: Path, broker: Broker) -> None:
    broker.start()
    sub = Subscriber(broker.port, TOPICS)
    settings, sink = mqtt_sink(broker)
    d = deploy(tmp_path, [settings], RETRY)
    commands: list[bytes] = []
    sink.subscribe("citywatch/commands", commands.append)  # the sink's own subscription
    dispatcher = Dispatcher(d.outbox, {"hass": sink}, poll_s=0.05)
    try:
        wait_until(sub.subscribed.is_set, what="the subscriber")
        dispatcher.start()
        before = raise_alerts(d.store, 3)
        wait_until(lambda: all_arrived(sub, before), what="the first alerts")

        broker.stop()
        wait_until(lambda: not sink.connected, what="the sink to notice")
        during = raise_alerts(d.store, 3)  # written while the broker is down
        wait_until(lambda: dispatcher.counts["failed"] >= 1, what="a failed attempt")
        assert d.outbox.counts()[OutboxStatus.PENDING] >= 1

        # Deliveries wait until the test's own subscriber is back: what the broker does with
        # messages for a client that is reconnecting is the broker's business, not ours.
        dispatcher.stop()
        broker.start()  # same port, same persistent store
        wait_until(lambda: sub.connects >= 2 and sub.subscribed.is_set(), what="the subscriber's return")
        dispatcher = Dispatcher(d.outbox, {"hass": sink}, poll_s=0.05)  # the same sink, reconnecting
        dispatcher.start()
        wait_until(lambda: all_arrived(sub, before + during), what="the alerts after the restart")
        wait_until(lambda: d.outbox.counts()[OutboxStatus.DELIVERED] == 6, what="the outbox to settle")
        assert d.outbox.counts()[OutboxStatus.DEAD] == 0

        # both clients reconnected, and the sink subscribed again on its own
        assert sink.connects >= 2 and sub.connects >= 2
        wait_until(lambda: sink.connected, what="reconnect")
        publish.single("citywatch/commands", "ping", qos=1, hostname="127.0.0.1", port=broker.port)
        wait_until(lambda: commands == [b"ping"], what="the re-subscribed topic")
    finally:
        dispatcher.stop()
        sub.close()
    check_payloads(sub, d, before + during)
    repeats = {t: len(sub.ids(t)) - len(set(sub.ids(t))) for t in TOPICS}
    print(f"at-least-once: repeats per topic after the restart: {repeats}")


def test_broker_down_at_start_then_up(tmp_path: Path, broker: Broker) -> None:
    # a subscriber with a persistent session, as home automation keeps one
    broker.start()
    sub = Subscriber(broker.port, TOPICS)
    wait_until(sub.subscribed.is_set, what="the subscriber")
    broker.stop()

    settings, sink = mqtt_sink(broker)
    d = deploy(tmp_path, [settings], RETRY)
    earlier = raise_alerts(d.store, 2)  # an earlier run's alerts, never sent
    dispatcher = Dispatcher(d.outbox, {"hass": sink}, poll_s=0.05)
    dispatcher.start()  # the broker is down
    try:
        wait_until(lambda: dispatcher.counts["failed"] >= 1, what="a failed attempt")
        assert d.outbox.counts()[OutboxStatus.PENDING] == 2
        later = raise_alerts(d.store, 1)
        broker.start()
        wait_until(lambda: d.outbox.counts()[OutboxStatus.DELIVERED] == 3, what="delivery")
        wait_until(lambda: all_arrived(sub, earlier + later), what="the subscriber")
    finally:
        dispatcher.stop()
        sub.close()
    check_payloads(sub, d, earlier + later)


def test_probe_round_trip(broker: Broker) -> None:
    broker.start()
    _, sink = mqtt_sink(broker)
    try:
        assert sink.probe().startswith(f"arrived through mqtt://127.0.0.1:{broker.port} on citywatch/test")
    finally:
        sink.close()


def test_broker_down_is_a_delivery_failure_not_a_hang(broker: Broker) -> None:
    _, sink = mqtt_sink(broker)  # never started
    try:
        with pytest.raises(DeliveryFailed, match="not connected"):
            sink.send(Message("k", "citywatch/gate-1/alerts", "{}"))
    finally:
        sink.close()


def test_close_stops_pahos_thread(broker: Broker) -> None:
    broker.start()
    _, sink = mqtt_sink(broker)
    sink.send(Message("k", "citywatch/gate-1/alerts", "{}"))
    before = {t.ident for t in threading.enumerate()}
    sink.close()
    wait_until(lambda: len({t.ident for t in threading.enumerate()}) < len(before), 5, "paho's thread")


def test_alerts_reach_the_mosquitto_running_on_localhost(tmp_path: Path) -> None:
    """The machine's own broker (127.0.0.1:1883), as a deployment would use it; left running."""
    if not _listening(SYSTEM_BROKER_PORT):
        if os.environ.get("CI") == "true":
            pytest.fail("no Mosquitto on 127.0.0.1:1883; CI machines run one")
        pytest.skip("no Mosquitto on 127.0.0.1:1883")
    camera = f"ci-{uuid.uuid4().hex[:8]}"  # a topic of its own on a shared broker
    topic = f"citywatch/{camera}/alerts"
    sub = Subscriber(SYSTEM_BROKER_PORT, [topic], client_id=f"citywatch-test-{camera}")
    settings = MqttSinkSettings(name="site", port=SYSTEM_BROKER_PORT, publish_timeout_s=3)
    sink = MqttSink(settings, reconnect_min_s=1, reconnect_max_s=2)
    d = deploy(tmp_path, [settings], RETRY)
    dispatcher = Dispatcher(d.outbox, {"site": sink}, poll_s=0.05)
    try:
        wait_until(sub.subscribed.is_set, what="the subscriber")
        dispatcher.start()
        ids = raise_alerts(d.store, 3, camera_id=camera)
        wait_until(lambda: set(ids) <= set(sub.ids(topic)), what="the alerts on the system broker")
        wait_until(lambda: d.outbox.counts()[OutboxStatus.DELIVERED] == 3, what="the outbox to settle")
    finally:
        dispatcher.stop()
        sub.close()
    assert {p["camera"] for p in sub.received[topic]} == {camera}


SYSTEM_BROKER_PORT = 1883


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
