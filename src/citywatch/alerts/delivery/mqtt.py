"""MQTT delivery with paho-mqtt: Frigate-style topics (`<prefix>/alerts` and
`<prefix>/<camera>/alerts`), QoS 1 with a wait for the broker's PUBACK, an availability
topic with a last will, and paho's own reconnect with backoff; subscriptions are made again
on every connect (a restarted broker has forgotten them)."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from citywatch.alerts.delivery.message import Message, probe_body
from citywatch.alerts.delivery.sink import DeliveryFailed
from citywatch.config.delivery import MqttSinkSettings
from citywatch.domain.clock import Clock

log = logging.getLogger(__name__)

QOS = 1
CONNECT_WAIT_S = 2.0
"""How long a send waits for a (re)connection in progress before counting a failure."""
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


class MqttSink:
    """One paho client per sink, its network loop on paho's own thread, started lazily."""

    def __init__(
        self,
        settings: MqttSinkSettings,
        *,
        reconnect_min_s: int = RECONNECT_MIN_S,
        reconnect_max_s: int = RECONNECT_MAX_S,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.name = settings.name
        self._settings = settings
        self._prefix = settings.topic_prefix
        self._where = f"mqtt://{settings.host}:{settings.port}"
        self._clock = clock
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._subscriptions: dict[str, Callable[[bytes], None]] = {}
        self.connects = 0
        """Successful connections so far (1 + reconnects)."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"citywatch-{settings.name}-{os.getpid()}-{secrets.token_hex(3)}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if settings.username:
            client.username_pw_set(settings.username, settings.password.get_secret_value() or None)
        client.will_set(self.availability_topic, "offline", qos=QOS, retain=True)
        client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    @property
    def availability_topic(self) -> str:
        return f"{self._prefix}/available"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background; paho retries (with backoff) while the broker is down."""
        with self._lock:
            if self._started:
                return
            self._started = True
            try:
                self._client.connect_async(
                    self._settings.host, self._settings.port, keepalive=self._settings.keepalive_s
                )
            except (OSError, ValueError) as exc:
                self._started = False
                raise DeliveryFailed(f"{self.name}: cannot use broker {self._where} ({exc})") from None
            self._client.loop_start()

    def send(self, message: Message) -> None:
        """Publish to `<prefix>/alerts` and to the message's topic; returns once the broker
        acknowledged both (QoS 1). A retry after a lost PUBACK may repeat a message: delivery
        is at least once, and `id` in the payload lets subscribers drop repeats."""
        self._publish([f"{self._prefix}/alerts", message.topic], message.body)

    def probe(self) -> str:
        """Publish a test message to `<prefix>/test` and wait for it to come back through the
        broker (a subscription of our own): proof that it arrived, not only that it left."""
        topic = f"{self._prefix}/test"
        body = probe_body(self.name, self._clock())
        arrived = threading.Event()

        def on_test(payload: bytes) -> None:
            if payload.decode(errors="replace") == body:
                arrived.set()

        self.subscribe(topic, on_test)
        try:
            started = time.monotonic()
            self._wait_connected(self._settings.publish_timeout_s)
            # the SUBACK travels before our PUBLISH on the same connection, in order
            self._publish([topic], body)
            if not arrived.wait(self._settings.publish_timeout_s):
                raise DeliveryFailed(
                    f"{self.name}: {self._where} acknowledged the test message but did not route it "
                    f"back within {self._settings.publish_timeout_s:.0f} s (ACL?)"
                )
            return f"arrived through {self._where} on {topic} in {time.monotonic() - started:.2f} s"
        finally:
            self.unsubscribe(topic)

    def subscribe(self, topic: str, on_payload: Callable[[bytes], None]) -> None:
        """Subscribe now if connected, and again after every reconnect."""
        self._subscriptions[topic] = on_payload
        self.start()
        if self.connected:
            self._client.subscribe(topic, qos=QOS)

    def unsubscribe(self, topic: str) -> None:
        if self._subscriptions.pop(topic, None) is not None and self.connected:
            self._client.unsubscribe(topic)

    def close(self) -> None:
        """Say offline (retained), disconnect cleanly and stop paho's thread."""
        with self._lock:
            if not self._started:
                return
            self._started = False
        if self.connected:
            info = self._client.publish(self.availability_topic, "offline", qos=QOS, retain=True)
            # going away anyway: when this fails, the broker sends the will instead
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(1.0)
        self._client.disconnect()
        self._client.loop_stop()

    def _wait_connected(self, timeout_s: float) -> None:
        self.start()
        if not self._connected.wait(timeout_s):
            raise DeliveryFailed(f"{self.name}: not connected to broker {self._where}")

    def _publish(self, topics: list[str], body: str) -> None:
        # Not connected: fail now rather than leave the message in paho's queue, which would
        # send it on reconnect beside the outbox's own retry.
        self._wait_connected(min(CONNECT_WAIT_S, self._settings.publish_timeout_s))
        deadline = time.monotonic() + self._settings.publish_timeout_s
        infos = [self._client.publish(topic, body, qos=QOS) for topic in topics]
        for topic, info in zip(topics, infos, strict=True):
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
                published = info.is_published()
            except (RuntimeError, ValueError) as exc:
                raise DeliveryFailed(
                    f"{self.name}: publish to {topic} on {self._where} failed ({exc})"
                ) from None
            if not published:
                raise DeliveryFailed(
                    f"{self.name}: no acknowledgement for {topic} from {self._where} "
                    f"within {self._settings.publish_timeout_s:.0f} s"
                )

    # paho callbacks, on paho's network thread

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _properties: Any
    ) -> None:
        if reason.is_failure:
            log.warning("%s: broker %s refused the connection (%s)", self.name, self._where, reason)
            return
        self.connects += 1
        if self.connects > 1:
            log.info("%s: reconnected to %s", self.name, self._where)
        for topic in list(self._subscriptions):
            client.subscribe(topic, qos=QOS)
        client.publish(self.availability_topic, "online", qos=QOS, retain=True)
        self._connected.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _properties: Any
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was and reason.is_failure:
            log.warning("%s: lost broker %s (%s); reconnecting with backoff", self.name, self._where, reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        handler = self._subscriptions.get(message.topic)
        if handler is not None:
            handler(bytes(message.payload))
