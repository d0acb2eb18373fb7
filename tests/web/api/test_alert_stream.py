"""The live alert feed over HTTP: a real uvicorn on a free port, in process, as `citywatch run`
serves it; tokens from the users store; scope, replay and audit."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from citywatch.alerts.delivery.message import AlertMessage
from citywatch.config.api import ApiSettings
from citywatch.config.settings import Settings
from citywatch.domain.access import Permission
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.web.api.auth import permissions_of
from citywatch.web.api.server import ApiServer
from citywatch.web.app import create_app, verify_routes_declare_permission
from tests.alerts.delivery.test_feed import raise_alert
from tests.fakes.accounts import own_token

ARRIVES_S = 1.0


@dataclass
class Served:
    rt: Runtime
    url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def stream(self, user: str, **headers: str) -> Stream:
        return Stream(
            f"{self.url}/api/alerts/stream", {"Authorization": f"Bearer {self.tokens[user]}", **headers}
        )

    def alert(self, camera_id: str) -> int:
        self.tracks = getattr(self, "tracks", 0) + 1
        return raise_alert(self.rt, camera_id=camera_id, track_id=self.tracks)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = Settings(
        data_dir=tmp_path / "data", api=ApiSettings(enabled=True, port=0, heartbeat_s=0.2, shutdown_s=1)
    )
    rt = build_runtime(settings)
    users = {"sam": ("supervisor", None), "olga": ("operator", ["gate-1"]), "aude": ("auditor", None)}
    tokens = {}
    for name, (role, cameras) in users.items():
        rt.users.add_user(name, role, cameras=cameras)
        tokens[name] = own_token(rt.users, name, "test").token
    server = ApiServer(create_app(rt), settings.api, rt.feed)
    server.start()
    yield Served(rt, server.url, tokens)
    server.stop()
    rt.close()


class Stream:
    """An SSE client on its own thread: parsed events (and comments) into a queue."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: queue.Queue[dict[str, str]] = queue.Queue()
        self.status: int | None = None
        self.opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=30))
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()
        assert self.opened.wait(5), "the stream did not open"

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                self.content_type = response.headers.get("content-type", "")
                self.opened.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if not line:
                        if fields:
                            self.events.put(fields)
                        fields = {}
                    elif line.startswith(":"):
                        self.events.put({"comment": line[1:].strip()})
                    else:
                        key, _, value = line.partition(":")
                        fields[key] = value.removeprefix(" ")
        except (httpx.HTTPError, RuntimeError):
            pass
        finally:
            self.opened.set()
            self.events.put({"closed": ""})

    def next_alert(self, timeout_s: float = ARRIVES_S) -> dict[str, str]:
        deadline = time.monotonic() + timeout_s
        while True:
            event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            if "closed" in event:
                raise AssertionError("the stream closed")
            if event.get("event") == "alert":
                return event

    def close(self) -> None:
        self._client.close()


def test_healthz_is_public(served: Served) -> None:
    response = httpx.get(f"{served.url}/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("bogus", 401), ("aude", 403)],
    ids=["no token", "unknown token", "auditor without alerts.read"],
)
def test_the_stream_refuses_who_may_not_read_alerts(served: Served, who: str | None, status: int) -> None:
    headers = {} if who is None else {"Authorization": f"Bearer {served.tokens.get(who, 'cw_bogus')}"}
    response = httpx.get(f"{served.url}/api/alerts/stream", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert not [e for e in served.rt.audit_log.entries() if e.action == "alerts.stream"]


def test_an_operator_gets_only_their_cameras_alerts_live_and_the_open_is_audited(served: Served) -> None:
    operator = Stream(f"{served.url}/api/alerts/stream", {"Authorization": f"Bearer {served.tokens['olga']}"})
    supervisor = Stream(
        f"{served.url}/api/alerts/stream", {"Authorization": f"Bearer {served.tokens['sam']}"}
    )
    try:
        assert operator.status == 200 and operator.content_type.startswith("text/event-stream")
        hall = served.alert("hall-2")
        stored = time.monotonic()
        gate = served.alert("gate-1")
        seen = operator.next_alert()  # within 1 s of being stored
        assert time.monotonic() - stored < ARRIVES_S + 0.5
        assert seen["id"] == str(gate)  # the hall's alert, before it, never came
        assert '"camera":"gate-1"' in seen["data"] and '"id":' in seen["data"]
        assert [supervisor.next_alert()["id"] for _ in range(2)] == [str(hall), str(gate)]
    finally:
        operator.close()
        supervisor.close()
    opened = [e for e in served.rt.audit_log.entries() if e.action == "alerts.stream"]
    assert {(e.actor, e.role) for e in opened} == {("olga", "operator"), ("sam", "supervisor")}
    by_actor = {e.actor: e.params for e in opened}
    assert by_actor["olga"]["cameras"] == ["gate-1"]
    assert by_actor["sam"]["cameras"] == "all"


def test_last_event_id_replays_the_missed_alerts_first(served: Served) -> None:
    seen = served.alert("gate-1")
    missed = [served.alert("gate-1"), served.alert("hall-2"), served.alert("gate-1")]
    stream = served.stream("olga", **{"Last-Event-ID": str(seen)})
    try:
        replayed = [stream.next_alert()["id"] for _ in range(2)]
        assert replayed == [str(missed[0]), str(missed[2])]  # not the hall's: out of scope
        live = served.alert("gate-1")
        assert stream.next_alert()["id"] == str(live)  # then live, nothing twice
    finally:
        stream.close()
    [entry] = [e for e in served.rt.audit_log.entries() if e.action == "alerts.stream"]
    assert entry.params["last_event_id"] == seen


def test_an_idle_stream_sends_heartbeats(served: Served) -> None:
    stream = served.stream("sam")
    try:
        event = stream.events.get(timeout=2)
        assert event == {"comment": "ping"}
    finally:
        stream.close()


def test_a_revoked_token_ends_an_open_stream(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", api=ApiSettings(port=0, heartbeat_s=0.2, recheck_s=0.2, shutdown_s=1)
    )
    rt = build_runtime(settings)
    rt.users.add_user("sam", "supervisor")
    issued = own_token(rt.users, "sam", "test")
    server = ApiServer(create_app(rt), settings.api, rt.feed)
    server.start()
    try:
        stream = Stream(f"{server.url}/api/alerts/stream", {"Authorization": f"Bearer {issued.token}"})
        rt.users.revoke_token(issued.id)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if "closed" in stream.events.get(timeout=3):
                break
        else:
            raise AssertionError("the stream stayed open after its token was revoked")
        stream.close()
    finally:
        server.stop()
        rt.close()


def test_stopping_the_server_ends_open_streams_promptly(served: Served) -> None:
    stream = served.stream("sam")
    started = time.monotonic()
    served.rt.feed.close("stopping")
    while "closed" not in stream.events.get(timeout=3):
        pass
    assert time.monotonic() - started < 2
    stream.close()


def test_every_route_declares_exactly_one_permission(served: Served) -> None:
    app = create_app(served.rt)
    declared: dict[str, list[Permission]] = {}
    for route in app.routes:
        assert isinstance(route, APIRoute), f"{getattr(route, 'path', route)} is not an API route"
        declared[route.path] = permissions_of(route)
    assert all(len(p) == 1 for p in declared.values()), declared
    assert declared["/api/alerts/stream"] == [Permission.ALERTS_READ]
    assert declared["/healthz"] == [Permission.PUBLIC]


def test_create_app_refuses_a_route_without_a_permission(served: Served) -> None:
    app = create_app(served.rt)

    @app.get("/api/undeclared")
    def undeclared() -> dict[str, Any]:
        return {}

    with pytest.raises(RuntimeError, match="/api/undeclared"):
        verify_routes_declare_permission(app)


def test_the_documented_event_carries_the_alert_message_fields(served: Served) -> None:
    """The OpenAPI example is what a client really gets: an AlertMessage, not another shape."""
    schema = create_app(served.rt).openapi()
    content = schema["paths"]["/api/alerts/stream"]["get"]["responses"]["200"]["content"]
    example = content["text/event-stream"]["example"]
    lines = dict(line.split(": ", 1) for line in example.strip().splitlines())
    data = json.loads(lines["data"])
    assert data.keys() == {f.name for f in fields(AlertMessage)}
    assert (lines["event"], lines["id"]) == ("alert", str(data["id"]))
