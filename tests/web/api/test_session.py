"""Console sign-in: the session cookie signs in like a token, expires, ends at sign-out, is
refused cross-site for changes, and a console page without one sends the browser to sign in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citywatch.web.api.auth import SESSION_COOKIE
from tests.web.api.harness import Api, api_settings, open_api

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


# --- failed sign-ins: audited, but never without bound -----------------------------------


def failed_sign_ins(api: Api) -> int:
    return sum(e.action == "user.login_failed" for e in api.rt.audit_log.entries())


@pytest.mark.parametrize("path", ["/", "/login", "/transparency", "/request"])
def test_a_bogus_cookie_on_a_public_page_writes_no_audit_record_and_is_cleared(api: Api, path: str) -> None:
    api.client.cookies.set(SESSION_COOKIE, "cw_" + "A" * 43)
    for _ in range(3):
        response = api.client.get(path, follow_redirects=False)
        assert response.status_code in (200, 303)
    assert failed_sign_ins(api) == 0
    header = response.headers["set-cookie"]  # every public page tells the browser to drop it
    assert header.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in header


def test_a_good_session_cookie_is_kept_on_the_front_door(api: Api) -> None:
    sign_in(api)
    response = api.client.get("/", follow_redirects=False)
    assert response.headers["location"] == "/console/alerts"
    assert "set-cookie" not in response.headers


def rate_limited(api: Api) -> list[str]:
    return [e.object for e in api.rt.audit_log.entries() if e.action == "auth.rate_limited"]


BOGUS = {"Authorization": "Bearer cw_" + "B" * 43}


def bogus_from(api: Api, address: str) -> int:
    """The status a bogus token gets from `address` (the app's client address)."""
    client = TestClient(api.client.app, client=(address, 50000))
    return client.get("/api/alerts", headers=BOGUS).status_code


def test_failed_token_sign_ins_are_audited_up_to_a_limit_per_address(tmp_path: Path) -> None:
    for api in open_api(api_settings(tmp_path, failed_token_sign_ins_per_15min=3)):
        codes = [api.call("GET", "/api/alerts", headers=BOGUS).status_code for _ in range(3)]
        assert codes == [401] * 3
        assert failed_sign_ins(api) == 3  # an accountable system records failed sign-ins ...
        before = len(api.rt.audit_log.entries())
        for _ in range(20):  # ... but not without bound
            refused = api.call("GET", "/api/alerts", headers=BOGUS)
            assert refused.status_code == 429
            assert int(refused.headers["Retry-After"]) > 0
        api.client.cookies.set(SESSION_COOKIE, "cw_" + "C" * 43)  # a bogus cookie counts too
        assert api.call("GET", "/api/alerts").status_code == 429
        assert failed_sign_ins(api) == 3
        # the crossing is on record once, naming the address by a keyed hash, not as sent
        assert len(api.rt.audit_log.entries()) == before + 1
        [address] = rate_limited(api)
        assert address.startswith("address:") and "testclient" not in address


def test_valid_sign_ins_from_a_limited_address_still_get_in(tmp_path: Path) -> None:
    """An office NAT or a reverse proxy: one caller's bogus tokens (or the console's own images
    carrying a dead cookie) must not lock everyone else at that address out."""
    for api in open_api(api_settings(tmp_path, failed_token_sign_ins_per_15min=30)):
        api.rt.users.set_password("sam", PASSWORD)
        codes = [api.call("GET", "/api/alerts", headers=BOGUS).status_code for _ in range(30)]
        assert codes == [401] * 30 and failed_sign_ins(api) == 30
        assert api.call("GET", "/api/alerts", headers=BOGUS).status_code == 429
        assert failed_sign_ins(api) == 30  # the 31st is not recorded ...
        assert len(rate_limited(api)) == 1  # ... but the crossing is, once
        assert api.call("GET", "/api/alerts", "sam").status_code == 200  # a good token
        sign_in(api)  # a fresh console session, same address
        assert api.call("GET", "/api/alerts").status_code == 200
        assert api.call("GET", "/console/alerts", follow_redirects=False).status_code == 200
        api.client.cookies.clear()
        assert api.call("GET", "/api/alerts", headers=BOGUS).status_code == 429
        assert (failed_sign_ins(api), len(rate_limited(api))) == (30, 1)


def test_good_tokens_do_not_count_towards_the_failure_limit(tmp_path: Path) -> None:
    for api in open_api(api_settings(tmp_path, failed_token_sign_ins_per_15min=2)):
        for _ in range(5):
            assert api.call("GET", "/api/alerts", "sam").status_code == 200
        codes = [api.call("GET", "/api/alerts", headers=BOGUS).status_code for _ in range(3)]
        assert codes == [401, 401, 429]


def test_ipv6_addresses_in_one_64_share_a_failure_budget(tmp_path: Path) -> None:
    for api in open_api(api_settings(tmp_path, failed_token_sign_ins_per_15min=2)):
        assert [bogus_from(api, "2001:db8:5:6::1"), bogus_from(api, "2001:db8:5:6::2")] == [401, 401]
        assert bogus_from(api, "2001:db8:5:6:abcd::9") == 429  # rotating within the /64 does not escape
        assert bogus_from(api, "2001:db8:5:7::1") == 401  # another /64 has its own budget
        assert failed_sign_ins(api) == 3 and len(rate_limited(api)) == 1


def test_failed_sign_ins_are_audited_up_to_a_limit_across_all_addresses(tmp_path: Path) -> None:
    for api in open_api(api_settings(tmp_path, failed_token_sign_ins_per_15min=1)):
        codes = [bogus_from(api, f"198.51.100.{n}") for n in range(1, 16)]
        assert codes == [401] * 15  # each address within its own limit ...
        assert failed_sign_ins(api) == 10  # ... but only 10 x the limit recorded in the window
        assert rate_limited(api) == ["address:*"]  # and once that it stopped


# --- a sign-in from another site's page ---------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, or a page that hides where it is
        {"Referer": "https://evil.example/form"},
    ],
    ids=["origin", "null origin", "referer"],
)
def test_a_sign_in_posted_from_another_site_is_refused(api: Api, headers: dict[str, str]) -> None:
    response = api.call("POST", "/api/session", json={"name": "sam", "password": PASSWORD}, headers=headers)
    assert response.status_code == 403
    assert "Origin" in response.json()["detail"]
    assert SESSION_COOKIE not in response.cookies
    assert not [e for e in api.rt.audit_log.entries() if e.action.startswith(("user.login", "session."))]


@pytest.mark.parametrize(
    "headers", [{}, {"Origin": "http://testserver"}, {"Referer": "http://testserver/login"}]
)
def test_a_sign_in_from_the_console_or_a_program_is_allowed(api: Api, headers: dict[str, str]) -> None:
    """A program names no origin and carries the password itself: nothing for a forger to borrow."""
    response = api.call("POST", "/api/session", json={"name": "sam", "password": PASSWORD}, headers=headers)
    assert response.status_code == 200, response.text


def test_a_session_without_an_end_is_never_handed_out(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit check, not an assert (which `python -O` strips)."""
    users = api.client.app.state.sign_ins  # type: ignore[attr-defined]
    opened = users.open_session
    monkeypatch.setattr(users, "open_session", lambda *a: replace(opened(*a), expires_at=None))
    response = api.call("POST", "/api/session", json={"name": "sam", "password": PASSWORD})
    assert response.status_code == 500
    assert "without an end" in response.json()["detail"]
    assert SESSION_COOKIE not in response.cookies
