"""Every API route and the one permission it declares, in one table; the app must match it
route for route (none missing, none extra, none declaring another permission), and every
route is called by each role: 401 without a token, 403 for a role without the permission,
neither for a role with it (ids that do not exist: 404, or 422 for a missing body, is fine).

The table covers the API (`/api/…`) and `/healthz`. Routes outside it (the console's pages,
the operations endpoints) have their own tests; here they are only held to declaring exactly
one permission, as `create_app` itself demands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from citywatch.domain.access import ACCOUNT_ROLES as ROLES
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Actor
from citywatch.web.api.auth import permissions_of
from citywatch.web.app import create_app, verify_routes_declare_permission
from tests.web.api.harness import USERS, Api, api_settings, open_api

P = Permission
ROUTES: dict[tuple[str, str], Permission] = {
    # alerts and sightings
    ("GET", "/api/alerts/stream"): P.ALERTS_READ,
    ("GET", "/api/alerts"): P.ALERTS_READ,
    ("GET", "/api/alerts/{alert_id}"): P.ALERTS_READ,
    ("POST", "/api/alerts/{alert_id}/acknowledge"): P.ALERTS_ACT,
    ("POST", "/api/alerts/{alert_id}/confirm"): P.ALERTS_ACT,
    ("POST", "/api/alerts/{alert_id}/dismiss"): P.ALERTS_ACT,
    ("GET", "/api/alerts/{alert_id}/notes"): P.ALERTS_READ,
    ("POST", "/api/alerts/{alert_id}/notes"): P.ALERTS_ACT,
    ("GET", "/api/sightings"): P.SIGHTINGS_READ,
    ("GET", "/api/sightings/{sighting_id}/crop"): P.SIGHTINGS_READ,
    # watchlists, persons, changes (two-person rule)
    ("GET", "/api/watchlists"): P.WATCHLISTS_READ,
    ("POST", "/api/watchlists"): P.WATCHLISTS_MANAGE,
    ("POST", "/api/watchlists/{name}/threshold"): P.WATCHLISTS_MANAGE,
    ("POST", "/api/watchlists/{name}/margin"): P.WATCHLISTS_MANAGE,
    ("POST", "/api/watchlists/{name}/severity"): P.WATCHLISTS_MANAGE,
    ("GET", "/api/persons"): P.WATCHLISTS_READ,
    ("POST", "/api/persons"): P.WATCHLISTS_MANAGE,
    ("GET", "/api/persons/{person_id}"): P.WATCHLISTS_READ,
    ("PATCH", "/api/persons/{person_id}"): P.WATCHLISTS_MANAGE,
    ("DELETE", "/api/persons/{person_id}"): P.WATCHLISTS_MANAGE,
    ("GET", "/api/persons/{person_id}/reference"): P.WATCHLISTS_READ,
    ("GET", "/api/changes"): P.WATCHLISTS_READ,
    ("POST", "/api/changes/{change_id}/approve"): P.CHANGES_APPROVE,
    ("POST", "/api/changes/{change_id}/refuse"): P.WATCHLISTS_MANAGE,
    # cameras, policy, zones, events
    ("GET", "/api/cameras"): P.POLICY_READ,
    ("POST", "/api/cameras"): P.CAMERAS_MANAGE,
    ("GET", "/api/cameras/{camera_id}"): P.POLICY_READ,
    ("PATCH", "/api/cameras/{camera_id}"): P.CAMERAS_MANAGE,
    ("DELETE", "/api/cameras/{camera_id}"): P.CAMERAS_MANAGE,
    ("GET", "/api/cameras/{camera_id}/snapshot"): P.SIGHTINGS_READ,
    ("GET", "/api/policy"): P.POLICY_READ,
    ("POST", "/api/policy/rules"): P.POLICY_MANAGE,
    ("DELETE", "/api/policy/rules/{rule_id}"): P.POLICY_MANAGE,
    ("GET", "/api/zones"): P.POLICY_READ,
    ("POST", "/api/zones"): P.POLICY_MANAGE,
    ("DELETE", "/api/zones/{name}"): P.POLICY_MANAGE,
    ("GET", "/api/events"): P.POLICY_READ,
    ("POST", "/api/events"): P.POLICY_MANAGE,
    ("DELETE", "/api/events/{name}"): P.POLICY_MANAGE,
    # authorisations
    ("GET", "/api/authorisations"): P.AUTHORISATIONS_READ,
    ("POST", "/api/authorisations"): P.AUTHORISATIONS_REQUEST,
    ("POST", "/api/authorisations/{reference:path}/approve"): P.AUTHORISATIONS_DECIDE,
    ("POST", "/api/authorisations/{reference:path}/refuse"): P.AUTHORISATIONS_DECIDE,
    ("POST", "/api/authorisations/{reference:path}/revoke"): P.AUTHORISATIONS_DECIDE,
    # orders
    ("GET", "/api/orders"): P.ORDERS_READ,
    ("POST", "/api/orders"): P.ORDERS_MANAGE,
    ("POST", "/api/orders/{order_id}/end"): P.ORDERS_MANAGE,
    ("POST", "/api/orders/{order_id}/revoke"): P.ORDERS_MANAGE,
    # case search, footage
    ("POST", "/api/search"): P.CASE_SEARCH,
    ("GET", "/api/recordings"): P.SIGHTINGS_READ,
    ("GET", "/api/recordings/clip"): P.SIGHTINGS_READ,
    # holds, receipts, requests, exports
    ("GET", "/api/holds"): P.HOLDS_MANAGE,
    ("POST", "/api/holds"): P.HOLDS_MANAGE,
    ("POST", "/api/holds/{hold_id}/extend"): P.HOLDS_MANAGE,
    ("POST", "/api/holds/{hold_id}/release"): P.HOLDS_MANAGE,
    ("GET", "/api/receipts"): P.RECEIPTS_READ,
    ("GET", "/api/requests"): P.REQUESTS_READ,
    ("POST", "/api/requests"): P.REQUESTS_FILE,
    ("POST", "/api/requests/{request_id}/review"): P.REQUESTS_DECIDE,
    ("POST", "/api/requests/{request_id}/approve"): P.REQUESTS_DECIDE,
    ("POST", "/api/requests/{request_id}/refuse"): P.REQUESTS_DECIDE,
    ("POST", "/api/requests/{request_id}/close"): P.REQUESTS_DECIDE,
    ("GET", "/api/exports"): P.REQUESTS_READ,
    ("GET", "/api/exports/{export_id}/package"): P.REQUESTS_DECIDE,
    ("POST", "/api/exports/{export_id}/verify"): P.EXPORTS_VERIFY,
    # audit
    ("GET", "/api/audit"): P.AUDIT_READ,
    ("POST", "/api/audit/verify"): P.AUDIT_READ,
    # users and tokens
    ("GET", "/api/users"): P.USERS_MANAGE,
    ("POST", "/api/users"): P.USERS_MANAGE,
    ("POST", "/api/users/{name}/role"): P.USERS_MANAGE,
    ("POST", "/api/users/{name}/cameras"): P.USERS_MANAGE,
    ("POST", "/api/users/{name}/password"): P.USERS_MANAGE,
    ("POST", "/api/users/{name}/disable"): P.USERS_MANAGE,
    ("POST", "/api/users/{name}/tokens"): P.USERS_MANAGE,
    ("POST", "/api/me/tokens"): P.ACCOUNT_SELF,
    ("POST", "/api/me/password"): P.ACCOUNT_SELF,
    ("GET", "/api/tokens"): P.USERS_MANAGE,
    ("POST", "/api/tokens/{token_id}/revoke"): P.USERS_MANAGE,
    # public: the form, the report, signing in and out, health
    ("POST", "/api/public/requests"): P.PUBLIC,
    ("GET", "/api/transparency"): P.PUBLIC,
    ("POST", "/api/session"): P.PUBLIC,
    ("DELETE", "/api/session"): P.PUBLIC,
    ("GET", "/healthz"): P.PUBLIC,
}
"""(method, path) → the one permission the route declares."""

TABLE = sorted((method, path, permission) for (method, path), permission in ROUTES.items())
SIGNED_IN_ROUTES = [r for r in TABLE if r[2] is not P.PUBLIC]
PUBLIC_ROUTES = [r for r in TABLE if r[2] is P.PUBLIC]
HEADERS: dict[str, dict[str, str]] = {"/api/alerts/stream": {"Last-Event-ID": "not-an-id"}}
"""Extra headers that end a call early for a permitted caller (a live stream never ends on its
own: a malformed Last-Event-ID makes it 422 before it opens)."""


def in_table_scope(path: str) -> bool:
    return path.startswith("/api/") or path == "/healthz"


def concrete(path: str) -> str:
    """A callable path for a template: ids and names that do not exist (a permitted caller gets 404)."""
    return re.sub(r"\{[^}]+\}", "999", path)


def declared_routes(api: Api) -> dict[tuple[str, str], list[Permission]]:
    app = create_app(api.rt)
    return {
        (method, route.path): permissions_of(route)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
        if method != "HEAD"
    }


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app for the whole table: no call of it changes anything (ids that do not exist,
    bodies that are refused)."""
    # every route is tried with a bogus token from the one test address: far more failed
    # sign-ins than a person makes, so the per-address limit (tests/web/api/test_rate_limit.py)
    # is raised here
    settings = api_settings(tmp_path_factory.mktemp("route-matrix"), failed_token_sign_ins_per_15min=10_000)
    yield from open_api(settings)


def test_the_table_is_every_api_route_with_its_declared_permission(shared_api: Api) -> None:
    declared = declared_routes(shared_api)
    in_app = {key for key in declared if in_table_scope(key[1])}
    assert sorted(in_app - ROUTES.keys()) == [], "routes missing from the table"
    assert sorted(ROUTES.keys() - in_app) == [], "routes in the table but not in the app"
    wrong = {key: (declared[key], ROUTES[key]) for key in in_app if declared[key] != [ROUTES[key]]}
    assert wrong == {}, "routes declaring another permission than the table's (declared, table)"


def test_every_other_route_declares_exactly_one_permission(shared_api: Api) -> None:
    app = create_app(shared_api.rt)
    verify_routes_declare_permission(app)  # raises on a route without exactly one
    others = [
        r for r in app.routes if isinstance(r, APIRoute) and not in_table_scope(r.path)
    ]  # the console's pages and operations endpoints: tested by their owners
    assert all(len(permissions_of(r)) == 1 for r in others)


@pytest.mark.parametrize(
    ("method", "path", "permission"), SIGNED_IN_ROUTES, ids=[f"{m} {p}" for m, p, _ in SIGNED_IN_ROUTES]
)
def test_role_by_route(shared_api: Api, method: str, path: str, permission: Permission) -> None:
    url = concrete(path)
    kwargs: dict[str, Any] = {"json": {}} if method in {"POST", "PATCH"} else {}
    headers = HEADERS.get(path, {})
    anonymous = shared_api.call(method, url, headers=headers, **kwargs)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["code"] == "unauthorised" and anonymous.json()["detail"]
    bogus = shared_api.client.request(
        method, url, headers={"Authorization": "Bearer cw_bogus", **headers}, **kwargs
    )
    assert bogus.status_code == 401
    for user, role in USERS.items():
        response = shared_api.call(method, url, user, headers=headers, **kwargs)
        if can(Actor(user, role), permission):
            assert response.status_code not in {401, 403}, (user, response.status_code, response.text)
            assert response.status_code != 500, (user, response.text)  # 503: not running here
        else:
            assert response.status_code == 403, (user, response.status_code, response.text)
            body = response.json()
            assert body["code"] == "forbidden" and permission.value in body["detail"], (user, body)


@pytest.mark.parametrize(
    ("method", "path", "permission"), PUBLIC_ROUTES, ids=[f"{m} {p}" for m, p, _ in PUBLIC_ROUTES]
)
def test_a_public_route_needs_no_token(
    shared_api: Api, method: str, path: str, permission: Permission
) -> None:
    kwargs: dict[str, Any] = {"json": {}} if method == "POST" else {}
    response = shared_api.call(method, concrete(path), **kwargs)
    assert response.status_code not in {401, 403, 500}, response.text


def test_each_role_is_in_the_matrix() -> None:
    """The matrix calls every role there is (a new role must get a user in the harness)."""
    assert set(USERS.values()) == set(ROLES)
