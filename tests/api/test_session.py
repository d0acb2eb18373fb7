"""Console sign-in: the session cookie signs in like a token, expires, ends at sign-out, is
refused cross-site for changes, and a console page without one sends the browser to sign in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.api.auth import SESSION_COOKIE
from tests.api.harness import Api, api_settings, open_api

PASSWORD = "a long enough password"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    for api in open_api(api_settings(tmp_path, logins_per_15min=5)):
        api.rt.users.set_password("sam", PASSWORD)
        yield api


def sign_in(api: Api, name: str = "sam", password: str = PASSWORD) -> str:
    response = api.call("POST", "/api/session", json={"name": name, "password": password})
    assert response.status_code == 200, response.text
    cookie = response.cookies.get(SESSION_COOKIE)
    assert cookie
    return cookie


def test_a_session_cookie_signs_in_and_sign_out_ends_it(api: Api) -> None:
    response = api.call("POST", "/api/session", json={"name": "sam", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["role"]) == ("sam", "supervisor")
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header

    assert api.call("GET", "/api/alerts").status_code == 200  # the client keeps the cookie
    assert api.call("DELETE", "/api/session").status_code == 204
    assert api.call("GET", "/api/alerts").status_code == 401
    by = {e.action: (e.actor, e.role) for e in api.rt.audit_log.entries()}
    # recorded as the person signing in and out, not as the account the server runs under
    assert by["user.login"] == by["session.open"] == by["session.close"] == ("sam", "supervisor")


def test_a_wrong_password_is_refused_the_same_way_as_an_unknown_name(api: Api) -> None:
    wrong = api.call("POST", "/api/session", json={"name": "sam", "password": "not it at all"})
    unknown = api.call("POST", "/api/session", json={"name": "nobody", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 403
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert SESSION_COOKIE not in wrong.cookies
    failed = [(e.actor, e.object) for e in api.rt.audit_log.entries() if e.action == "user.login_failed"]
    assert failed == [("anonymous", "user:sam"), ("anonymous", "user:nobody")]


def test_too_many_sign_ins_from_one_address_are_refused(api: Api) -> None:
    codes = [
        api.call("POST", "/api/session", json={"name": "sam", "password": "wrong password"}).status_code
        for _ in range(6)
    ]
    assert codes == [403] * 5 + [429]


def test_an_expired_session_no_longer_signs_in(api: Api) -> None:
    issued = api.rt.users.open_session("sam", PASSWORD, timedelta(seconds=-1))
    api.client.cookies.set(SESSION_COOKIE, issued.token)
    response = api.call("GET", "/api/alerts")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_cookie_changes_nothing_from_another_origin(api: Api) -> None:
    sign_in(api)
    body = {"name": "gate", "cameras": ["gate-1"]}
    foreign = api.call("POST", "/api/zones", json=body, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert "Origin" in foreign.json()["detail"]
    missing = api.call("POST", "/api/zones", json=body)
    assert missing.status_code == 403
    # a bearer token is not a cookie: no browser sends it by itself, so no origin check
    api.client.cookies.clear()
    by_token = api.call("POST", "/api/zones", "ada", json=body, headers={"Origin": "https://evil.example"})
    assert by_token.status_code == 201, by_token.text


def test_a_console_page_without_a_session_redirects_to_sign_in(api: Api) -> None:
    response = api.client.get("/console/alerts?camera=gate-1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/console/alerts%3Fcamera%3Dgate-1"


def test_a_password_reset_ends_a_stolen_session_cookie(api: Api) -> None:
    stolen = sign_in(api)
    api.client.cookies.clear()
    reset = api.call("POST", "/api/users/sam/password", "ada", json={"password": "a brand new password"})
    assert reset.status_code == 200, reset.text
    api.client.cookies.set(SESSION_COOKIE, stolen)
    response = api.call("GET", "/api/alerts")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    changes = [(e.actor, e.result_count) for e in api.rt.audit_log.entries() if e.action == "user.password"]
    assert changes[-1] == ("ada", 1)


def test_signing_in_again_ends_the_browsers_earlier_session(api: Api) -> None:
    """One browser, one session: a sign-in ends the session its cookie named before (so a
    cookie planted beforehand, or kept from an earlier sign-in, stops working)."""
    earlier = sign_in(api)
    later = sign_in(api)  # the client sends the earlier cookie along
    assert later != earlier
    api.client.cookies.set(SESSION_COOKIE, earlier)
    assert api.call("GET", "/api/alerts").status_code == 401
    api.client.cookies.set(SESSION_COOKIE, later)
    assert api.call("GET", "/api/alerts").status_code == 200
    closed = [e.actor for e in api.rt.audit_log.entries() if e.action == "session.close"]
    assert closed == ["sam"]


def test_a_refused_sign_in_leaves_the_browsers_session_alone(api: Api) -> None:
    sign_in(api)
    wrong = api.call("POST", "/api/session", json={"name": "sam", "password": "not it at all"})
    assert wrong.status_code == 403
    assert api.call("GET", "/api/alerts").status_code == 200
