"""Every request body is bounded before a route reads it (api/limits.py): a declared length
over the limit is refused unread, a streamed one as soon as it passes the limit, and the
upload routes take up to their own, larger limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citywatch.config.api import ApiSettings
from citywatch.web.api.limits import KB, BodyLimit, BodyTooLarge, takes_upload, upload_max_bytes
from tests.web.api.harness import Api, api_settings, open_api

LIMIT_KB = 1024  # the default


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path))


def scope_for(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


def stream(app: ASGIApp, scope: Scope, *, chunk: int, chunks: int) -> tuple[int, list[Message]]:
    """Send `chunks` body chunks of `chunk` bytes to `app` on demand; how many it asked for,
    and what it answered."""
    sent = 0
    answered: list[Message] = []

    async def receive() -> Message:
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": b"x" * chunk, "more_body": sent < chunks}

    async def send(message: Message) -> None:
        answered.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent, answered


def answer_of(messages: list[Message]) -> tuple[int, dict[str, object], dict[bytes, bytes]]:
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], json.loads(body), dict(start["headers"])


# --- through the app ------------------------------------------------------------------------


def test_an_oversized_sign_in_is_refused_unread_and_unaudited(api: Api) -> None:
    before = len(api.rt.audit_log.entries())
    body = json.dumps({"name": "sam", "password": "x" * 2_000_000}).encode()
    response = api.client.post("/api/session", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"the request body is larger than {LIMIT_KB} KB",
        "code": "too_large",
    }
    assert response.headers["connection"] == "close"
    assert len(api.rt.audit_log.entries()) == before


def test_a_declared_length_over_the_limit_is_refused_before_anything_is_read(api: Api) -> None:
    scope = scope_for(
        "POST",
        "/api/session",
        [(b"content-type", b"application/json"), (b"content-length", str(2 * 1024 * KB).encode())],
    )
    sent, answered = stream(api.client.app, scope, chunk=64 * KB, chunks=32)
    assert sent == 0
    assert answer_of(answered)[0] == 413


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", "/api/session", b"application/json"),  # FastAPI parses the JSON body
        ("POST", "/login", b"application/x-www-form-urlencoded"),  # read_body, its own smaller limit
        ("POST", "/api/holds", b"application/json"),  # signed-in route, unauthenticated caller
        ("POST", "/api/no-such-route", b"application/json"),  # nothing reads it at all
    ],
)
def test_a_streamed_body_is_read_only_up_to_the_limit(
    api: Api, method: str, path: str, content_type: bytes
) -> None:
    """No Content-Length (chunked): reading stops once the limit is passed, not at the end of a
    body that could be gigabytes long, and the answer is an error, never a 500."""
    chunk, chunks = 64 * KB, 1000
    scope = scope_for(
        method,
        path,
        [
            (b"origin", b"http://testserver"),
            (b"content-type", content_type),
            (b"transfer-encoding", b"chunked"),
        ],
    )
    sent, answered = stream(api.client.app, scope, chunk=chunk, chunks=chunks)
    assert sent <= LIMIT_KB * KB // chunk + 1, f"read {sent} of {chunks} chunks"
    status, body, _ = answer_of(answered)
    assert 400 <= status < 500 and "code" in body


def test_a_streamed_json_body_past_the_limit_is_413_in_the_one_error_format(api: Api) -> None:
    scope = scope_for(
        "POST", "/api/session", [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    )
    sent, answered = stream(api.client.app, scope, chunk=64 * KB, chunks=1000)
    assert sent == LIMIT_KB // 64 + 1
    status, body, headers = answer_of(answered)
    assert (status, body["code"], headers[b"connection"]) == (413, "too_large", b"close")


def test_the_largest_legitimate_json_body_is_read(api: Api) -> None:
    """A hold naming as many items as it may, sent indented: under the limit."""
    hold = {
        "reference": "case:2026-0412",
        "reason": "evidence",
        "items": [{"kind": "recording", "id": 2_000_000_000 + i} for i in range(10_000)],
    }
    body = json.dumps(hold, indent=2).encode()
    assert len(body) < LIMIT_KB * KB
    response = api.call(
        "POST", "/api/holds", "sam", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code != 413, response.text


def test_the_upload_routes_are_the_ones_declaring_a_multipart_body(api: Api) -> None:
    uploads = {
        (method, route.path)
        for route in api.client.app.routes  # type: ignore[attr-defined]
        if takes_upload(route)
        for method in route.methods  # type: ignore[attr-defined]
    }
    assert uploads == {("POST", "/api/persons"), ("POST", "/api/search"), ("POST", "/api/public/requests")}


@pytest.mark.parametrize(
    ("path", "user"),
    [("/api/persons", "ada"), ("/api/search", "ian"), ("/api/public/requests", None)],
)
def test_an_upload_route_takes_more_than_an_ordinary_body(
    tmp_path: Path, path: str, user: str | None
) -> None:
    """With a small ordinary limit, a photo larger than it still reaches the route (which then
    judges it: not a face, a missing field), and only the ceiling over every upload is refused."""
    for api in open_api(api_settings(tmp_path, body_max_kb=16)):
        photo = b"\xff\xd8\xff" + b"0" * 100_000
        response = api.call("POST", path, user, files={"photo": ("p.jpg", photo, "image/jpeg")})
        assert response.status_code != 413, response.text
        ceiling = upload_max_bytes(api.rt.settings.api)
        scope = scope_for(
            "POST",
            path,
            [
                (b"content-type", b"multipart/form-data; boundary=x"),
                (b"content-length", str(ceiling + 1).encode()),
            ],
        )
        sent, answered = stream(api.client.app, scope, chunk=64 * KB, chunks=1)
        status, body, _ = answer_of(answered)
        assert (sent, status, body["detail"]) == (
            0,
            413,
            f"the request body is larger than {ceiling // KB} KB",
        )


def test_an_ordinary_route_keeps_the_ordinary_limit_under_a_small_setting(tmp_path: Path) -> None:
    for api in open_api(api_settings(tmp_path, body_max_kb=16)):
        body = json.dumps({"name": "sam", "password": "x" * 20 * KB}).encode()
        response = api.client.post("/api/session", content=body, headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()["code"]) == (413, "too_large")


def test_the_upload_ceiling_is_the_largest_upload_limit() -> None:
    settings = ApiSettings(enrol_image_max_mb=2, enrol_images_max=3, public_photo_max_mb=50)
    assert upload_max_bytes(settings) == 50_000_000
    settings = ApiSettings(enrol_image_max_mb=2, enrol_images_max=3, public_photo_max_mb=1)
    assert upload_max_bytes(settings) == 3 * 2 * 1024 * 1024 + 1024 * 1024


# --- the middleware alone, around apps that misbehave ---------------------------------------


async def _answers_then_reads(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that starts its answer and then keeps reading (a stream waiting for the client
    to leave): past the limit it is told the client has gone."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while (await receive())["type"] != "http.disconnect":
        pass
    await send({"type": "http.response.body", "body": b"bye"})


async def _lets_it_escape(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads its body with no error handler around it."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_a_stream_already_answering_is_told_the_client_left() -> None:
    app = BodyLimit(_answers_then_reads, max_bytes=4 * KB, upload_max_bytes=0, uploads=[])
    sent, answered = stream(app, scope_for("GET", "/feed", []), chunk=KB, chunks=1000)
    assert sent == 5
    assert answered[-1]["body"] == b"bye"


def test_a_refusal_the_app_does_not_answer_is_answered_by_the_middleware() -> None:
    app = BodyLimit(_lets_it_escape, max_bytes=4 * KB, upload_max_bytes=0, uploads=[])
    sent, answered = stream(app, scope_for("POST", "/x", []), chunk=KB, chunks=1000)
    assert sent == 5
    status, body, _ = answer_of(answered)
    assert (status, body["code"]) == (413, "too_large")


def test_body_too_large_is_an_http_413() -> None:
    assert BodyTooLarge(KB).status_code == 413
