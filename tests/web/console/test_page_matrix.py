"""Every console page and the one permission it declares, in one table; the app must match it
page for page (none missing, none extra, none declaring another permission), and every page
is opened by each role's browser: without a session, a redirect to sign in (303 to /login);
for a role without the permission, the 403 page (HTML, not the API's JSON); for a role with
it, neither (an id that does not exist: 404, is fine). As tests/web/api/test_route_matrix.py does
for the API.

The table covers the console's pages: routes outside /api/ that the console declares out of
the API's schema and that need a signed-in user. The public pages (sign-in, the front door,
static files, the transparency report and the public request form) need none and have their
own tests; the operations endpoints (/metrics…) are in the API's schema and tested there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute

from citywatch.domain.access import ACCOUNT_ROLES as ROLES
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Actor
from citywatch.web.api.auth import permissions_of
from citywatch.web.app import create_app
from tests.web.api.test_route_matrix import concrete
from tests.web.console.pages_harness import USERS, Console, console_settings, open_console

P = Permission
PAGES: dict[str, Permission] = {
    # the live alert feed
    "/console/alerts": P.ALERTS_READ,
    "/console/alerts/{alert_id}/card": P.ALERTS_READ,
    # cameras, people, orders, case search
    "/console/cameras": P.POLICY_READ,
    "/console/people": P.WATCHLISTS_READ,
    "/console/orders": P.ORDERS_READ,
    "/console/search": P.CASE_SEARCH,
    # accountability: holds, receipts, audit, requests, exports
    "/console/holds": P.HOLDS_MANAGE,
    "/console/receipts": P.RECEIPTS_READ,
    "/console/audit": P.AUDIT_READ,
    "/console/requests": P.REQUESTS_READ,
    "/console/exports": P.REQUESTS_READ,
}
"""GET path → the one permission the page declares."""

TABLE = sorted(PAGES.items())
ONE_PER_ROLE = {role: next(name for name, (r, _) in USERS.items() if r == role) for role in ROLES}
"""A user of each role (the first the harness has: some are limited to a camera, which does
not change which pages they may open)."""


def is_console_page(route: APIRoute) -> bool:
    """A page the console declares (out of the API's schema, outside /api/) for signed-in users."""
    return (
        not route.path.startswith("/api/")
        and not route.include_in_schema
        and permissions_of(route) != [Permission.PUBLIC]
    )


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """One app for the whole table: opening a page changes nothing but the audit log."""
    yield from open_console(console_settings(tmp_path_factory.mktemp("page-matrix")))


def test_the_table_is_every_console_page_with_its_declared_permission(console: Console) -> None:
    app = create_app(console.rt)
    declared = {
        (method, route.path): permissions_of(route)
        for route in app.routes
        if isinstance(route, APIRoute) and is_console_page(route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    in_app = {path for _, path in declared}
    assert sorted(in_app - PAGES.keys()) == [], "pages missing from the table"
    assert sorted(PAGES.keys() - in_app) == [], "pages in the table but not in the app"
    assert {method for method, _ in declared} == {"GET"}, "a console page that is not a GET"
    wrong = {path: (p, PAGES[path]) for (_, path), p in declared.items() if p != [PAGES[path]]}
    assert wrong == {}, "pages declaring another permission than the table's (declared, table)"


@pytest.mark.parametrize(("path", "permission"), TABLE, ids=[path for path, _ in TABLE])
def test_role_by_page(console: Console, path: str, permission: Permission) -> None:
    url = concrete(path)
    signed_out = console.page(url, None)
    assert signed_out.status_code == 303, signed_out.text
    assert signed_out.headers["location"] == f"/login?next={url}"
    for role, user in ONE_PER_ROLE.items():
        response = console.page(url, user)
        if can(Actor(user, role), permission):
            assert response.status_code not in {401, 403}, (user, response.status_code, response.text)
            assert response.status_code < 500, (user, response.status_code, response.text)
        else:
            assert response.status_code == 403, (user, response.status_code)
            assert response.headers["content-type"].startswith("text/html"), (user, response.headers)
            assert "Not allowed" in response.text, user


def test_each_role_opens_the_pages() -> None:
    """The matrix opens every page as every role there is (a new role needs a harness user)."""
    assert set(ONE_PER_ROLE) == set(ROLES)
