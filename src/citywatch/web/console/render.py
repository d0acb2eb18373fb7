"""Rendering a console page: one Jinja2 environment (autoescaped), the navigation the caller's
role allows, and headers that keep the pages from running anything but our own scripts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from citywatch import __version__
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Actor
from citywatch.web.api.auth import ANONYMOUS, Caller

SECURITY_HEADERS = {
    # our own scripts and styles only, no inline script, no framing, no referrer to other sites
    # ("same-origin", not "no-referrer": under no-referrer a browser sends `Origin: null` on the
    # console's own form posts, and check_same_origin refuses them)
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    permission: Permission


NAV: tuple[NavItem, ...] = (
    NavItem("Alerts", "/console/alerts", Permission.ALERTS_READ),
    NavItem("Cameras", "/console/cameras", Permission.POLICY_READ),
    NavItem("People", "/console/people", Permission.WATCHLISTS_READ),
    NavItem("Orders", "/console/orders", Permission.ORDERS_READ),
    NavItem("Case search", "/console/search", Permission.CASE_SEARCH),
    NavItem("Holds", "/console/holds", Permission.HOLDS_MANAGE),
    NavItem("Requests", "/console/requests", Permission.REQUESTS_READ),
    NavItem("Exports", "/console/exports", Permission.REQUESTS_READ),
    NavItem("Audit", "/console/audit", Permission.AUDIT_READ),
    NavItem("Transparency", "/transparency", Permission.PUBLIC),
)
"""Every page of the console; each is shown only to a role that may open it."""


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("citywatch.web.console", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def add_page(app: FastAPI, path: str, endpoint: Callable[..., Any], method: str = "GET") -> None:
    """A console route: HTML (or a redirect) for people, so not part of the API's schema."""
    app.add_api_route(path, endpoint, methods=[method], response_class=Response, include_in_schema=False)


def error_page(request: Request, code: int, detail: str) -> Response:
    """An error as the console shows it to a person (the API's handlers call this for a page)."""
    return render(request, "error.html", status_code=code, code=code, detail=detail)


def nav_for(actor: Actor) -> list[NavItem]:
    return [item for item in NAV if can(actor, item.permission)]


def render(
    request: Request,
    template: str,
    caller: Caller | None = None,
    *,
    status_code: int = status.HTTP_200_OK,
    **context: Any,
) -> HTMLResponse:
    """`template` rendered for `caller` (the public when None), with the navigation and
    the current path (for the active tab)."""
    actor = ANONYMOUS if caller is None else caller.actor
    html = (
        environment()
        .get_template(template)
        .render(
            actor=actor,
            signed_in=actor is not ANONYMOUS,
            nav=nav_for(actor),
            path=request.url.path,
            version=__version__,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def _when(value: datetime | None) -> str:
    """A time as the console shows it: UTC, to the second."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
