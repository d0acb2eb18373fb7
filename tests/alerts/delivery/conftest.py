"""Fixtures for delivery: a private Mosquitto on a free port (never the shared one on 1883),
a webhook receiver that checks signatures, and a store whose alerts feed an outbox."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session

from citywatch.alerts.delivery.outbox import Backoff, Outbox
from citywatch.alerts.delivery.webhook import verify
from citywatch.config.delivery import SinkSettings
from citywatch.domain.audit import AuditEvent
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.db import open_database
from tests.fakes.stores import Stores, StoresLike
from tests.store.helpers import a_match, db_url, sighting

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WAIT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout_s: float = WAIT_S, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.02)


class Broker:
    """`mosquitto` on its own port and config, persistent like a real deployment: the
    subscribers' sessions and their queued QoS 1 messages survive a restart."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            f"log_dest file {folder}/mosquitto.log\n"
        )
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [shutil.which("mosquitto") or "mosquitto", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._accepting, 10, f"mosquitto on port {self.port}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None

    def _accepting(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {(self.folder / 'mosquitto.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    b = Broker(tmp_path / "broker")
    yield b
    b.stop()


class Subscriber:
    """A separate MQTT client, as a home-automation system would be: persistent session,
    subscribes (again) on every connect, records every payload by topic."""

    def __init__(self, port: int, topics: list[str], *, client_id: str | None = None) -> None:
        self.topics = topics
        self.received: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
        self.subscribed = threading.Event()
        self.connects = 0
        self._lock = threading.Lock()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-subscriber-{port}",
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        client.reconnect_delay_set(1, 2)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_message = self._on_message
        self.client = client
        client.connect_async("127.0.0.1", port, keepalive=10)
        client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        self.connects += 1
        self.subscribed.clear()
        client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received[message.topic].append(json.loads(message.payload))

    def ids(self, topic: str) -> list[int]:
        with self._lock:
            return [int(p["id"]) for p in self.received[topic]]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Receiver:
    """A webhook receiver on a free port: checks each request's signature, answers 500 to the
    first `fail_first` requests and 204 after."""

    fail_first: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/citywatch?token=not-logged"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"])).decode()
            ok = verify(SECRET, dict(self.headers.items()), body, datetime.now(UTC))
            state.requests.append(
                {
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(body),
                    "signature_ok": ok,
                }
            )
            failing = len(state.requests) <= state.fail_first
            self.send_response(401 if not ok else 500 if failing else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Deployment:
    store: Stores
    outbox: Outbox
    audited: list[AuditEvent]


def deploy(tmp_path: Path, sinks: list[SinkSettings], backoff: Backoff) -> Deployment:
    """A store whose new alerts write outbox rows for `sinks` (as build_runtime wires it)."""
    db = open_database(db_url(tmp_path / "db" / "citywatch.db"))
    audited: list[AuditEvent] = []

    def audit(_session: Session, event: AuditEvent) -> None:
        audited.append(event)

    outbox = Outbox(db, sinks, backoff=backoff, clock=lambda: datetime.now(UTC), audit=audit)
    store = Stores(db, LocalBlobStore(tmp_path / "blobs"), on_alert=outbox.write)
    return Deployment(store, outbox, audited)


def raise_alerts(store: StoresLike, count: int, *, camera_id: str = "gate-1") -> list[int]:
    """`count` matched sightings, each of another person (no cooldown merges them), each with
    its alert; returns the alert ids."""
    if not store.watchlists.list_watchlists():
        store.watchlists.create_watchlist("wanted")
    wanted = store.watchlists.get_watchlist("wanted")
    ids = []
    for i in range(count):
        name = f"Person {len(store.watchlists.list_persons()) + 1}"
        person = store.watchlists.add_person("wanted", name)
        match = a_match(person.id, wanted.id, person_name=name)
        saved = store.sightings.add_sighting(sighting(camera_id=camera_id, track_id=i + 1, match=match))
        assert saved.alert_id is not None
        ids.append(saved.alert_id)
    return ids
