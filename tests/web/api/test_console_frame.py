"""The console's frame: the sign-in page signs a browser in and sends it where it was going,
refuses a wrong password in words, never redirects off-site, and serves its own static files."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import Message, Scope

from citywatch.web.api.auth import SESSION_COOKIE
from citywatch.web.console.pages import LOGIN_FORM_MAX
from tests.web.api.harness import Api, api_settings, open_api

PASSWORD = "a long enough password"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    for api in open_api(api_settings(tmp_path)):
        api.rt.users.set_password("olga", PASSWORD)
        yield api


def form(name: str, password: str, next_: str) -> dict[str, object]:
    return {
        "content": f"name={name}&password={password.replace(' ', '+')}&next={next_}",
        "headers": {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://testserver"},
        "follow_redirects": False,
    }


def test_the_sign_in_form_sets_the_cookie_and_goes_where_the_browser_was_going(api: Api) -> None:
    page = api.client.get("/login?next=/console/alerts")
    assert page.status_code == 200
    assert 'name="password"' in page.text and 'value="/console/alerts"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]

    response = api.client.post("/login", **form("olga", PASSWORD, "/console/alerts"))  # type: ignore[arg-type]
    assert response.status_code == 303
    assert response.headers["location"] == "/console/alerts"
    assert response.cookies.get(SESSION_COOKIE)
    front = api.client.get("/", follow_redirects=False)
    assert front.headers["location"] == "/console/alerts"  # the operator's first page


def test_a_wrong_password_shows_the_form_again_saying_so(api: Api) -> None:
    response = api.client.post("/login", **form("olga", "not the password", "/"))  # type: ignore[arg-type]
    assert response.status_code == 403
    assert "sign-in failed" in response.text
    assert 'value="olga"' in response.text
    assert SESSION_COOKIE not in response.cookies


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_sign_in_never_sends_the_browser_to_another_site(api: Api, target: str) -> None:
    response = api.client.post("/login", **form("olga", PASSWORD, target))  # type: ignore[arg-type]
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_sign_out_ends_the_session(api: Api) -> None:
    signed = api.client.post("/login", **form("olga", PASSWORD, "/"))  # type: ignore[arg-type]
    token = signed.cookies[SESSION_COOKIE]
    assert api.call("GET", "/api/alerts").status_code == 200
    out = api.client.post("/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert out.status_code == 303
    api.client.cookies.set(SESSION_COOKIE, token)  # a copy of the cookie kept after sign-out
    assert api.call("GET", "/api/alerts").status_code == 401


def test_static_files_are_served_and_nothing_else_is(api: Api) -> None:
    css = api.client.get("/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert api.client.get("/static/console.js").status_code == 200
    assert api.client.get("/static/nothing.js").status_code == 404
    assert api.client.get("/static/..%2Fpages.py").status_code in (404, 422)


def test_a_browser_gets_errors_as_a_page_and_the_api_as_json(api: Api) -> None:
    page = api.client.get("/console/nowhere", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    machine = api.client.get("/api/nowhere", headers={"Accept": "text/html"})
    assert machine.status_code == 404
    assert machine.json()["code"] == "not_found"


# --- the sign-in form's body: bounded before it is read, refused clearly when malformed ----


def test_a_sign_in_form_declared_too_large_is_refused_unread(api: Api) -> None:
    response = api.client.post(
        "/login",
        content=b"name=olga&password=" + b"x" * (LOGIN_FORM_MAX + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://testserver"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_streamed_sign_in_form_is_read_only_up_to_the_limit(api: Api) -> None:
    """No Content-Length (chunked): reading stops once the limit is passed, not at the end of a
    body that could be gigabytes long."""
    chunk, sent, chunks = 1024, [0], 1000
    messages: list[Message] = []

    async def receive() -> Message:
        sent[0] += 1
        return {"type": "http.request", "body": b"x" * chunk, "more_body": sent[0] < chunks}

    async def send(message: Message) -> None:
        messages.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/login",
        "raw_path": b"/login",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"origin", b"http://testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(api.client.app(scope, receive, send))  # type: ignore[arg-type]
    assert messages[0]["status"] == 413
    assert sent[0] <= LOGIN_FORM_MAX // chunk + 1, f"read {sent[0]} of {chunks} chunks"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("name=olga&password=x&next=/&a=1&b=2&c=3", "too many fields"),
        ("name=olga&password=%ff%fe&next=/", "percent-encoded bytes that are not UTF-8"),
        (b"name=olga&password=\xff\xfe&next=/", "raw bytes that are not UTF-8"),
    ],
    ids=["fields", "percent-encoding", "raw bytes"],
)
@pytest.mark.parametrize("accept", ["text/html", "*/*"])
def test_a_malformed_sign_in_form_is_refused_clearly(
    api: Api, body: str | bytes, why: str, accept: str
) -> None:
    response = api.client.post(
        "/login",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "http://testserver",
            "Accept": accept,
        },
    )
    assert response.status_code == 422, why
    assert "sign-in form is malformed" in response.text
    if accept == "text/html":  # a browser gets a page, a program the API's error format
        assert response.headers["content-type"].startswith("text/html")
    else:
        assert response.json()["code"] == "invalid_input"
    assert SESSION_COOKIE not in response.cookies
