"""`create_app(runtime)`: the FastAPI app over the one runtime; errors mapped to HTTP once."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from citywatch import __version__
from citywatch.runtime.build import Runtime
from citywatch.web.api import alerts, cameras, errors, people, records
from citywatch.web.api import changes as change_routes
from citywatch.web.api import exports as export_routes
from citywatch.web.api import footage as footage_routes
from citywatch.web.api import orders as order_routes
from citywatch.web.api import policy as policy_routes
from citywatch.web.api import search as search_routes
from citywatch.web.api import users as user_routes
from citywatch.web.api import watchlists as watchlist_routes
from citywatch.web.api.accountability import add_routes as add_accountability_routes
from citywatch.web.api.auth import add_sign_ins, permissions_of
from citywatch.web.api.governance import add_routes as add_governance_routes
from citywatch.web.api.limits import BodyLimit, body_max_bytes, takes_upload, upload_max_bytes
from citywatch.web.api.operations import add_routes as add_operation_routes
from citywatch.web.api.requests import add_routes as add_request_routes
from citywatch.web.api.session import add_routes as add_session_routes
from citywatch.web.api.uploads import add_upload_limits
from citywatch.web.console.pages import add_routes as add_console_routes
from citywatch.web.console.render import error_page


def create_app(runtime: Runtime) -> FastAPI:
    """The API over `runtime`. Every route declares exactly one permission (default deny): an
    app with a route that does not is refused here, before it can serve anything."""
    app = FastAPI(
        title="citywatch",
        version=__version__,
        docs_url=None,  # /docs and /openapi.json are declared routes (api/operations.py),
        redoc_url=None,  # each with its permission like every other
        openapi_url=None,
    )
    app.state.runtime = runtime
    add_sign_ins(app, runtime)
    add_upload_limits(app, runtime.settings.api)
    runtime.feed  # noqa: B018 (built now, before request threads race to build it)
    errors.add_handlers(app, error_page)
    alerts.add_routes(app)
    records.add_routes(app)
    people.add_routes(app)
    cameras.add_routes(app)
    add_governance_routes(app)
    add_accountability_routes(app)
    add_request_routes(app)
    add_session_routes(app)
    for more in (
        order_routes,
        footage_routes,
        export_routes,
        user_routes,
        search_routes,
        change_routes,
        watchlist_routes,
    ):
        more.add_routes(app)
    policy_routes.add_routes(app)
    add_console_routes(app)
    add_operation_routes(app)

    verify_routes_declare_permission(app)
    # every body bounded before any route reads it; the upload routes up to their photo limits
    app.add_middleware(
        BodyLimit,
        max_bytes=body_max_bytes(runtime.settings.api),
        upload_max_bytes=upload_max_bytes(runtime.settings.api),
        uploads=[route for route in app.routes if takes_upload(route)],
    )
    return app


def verify_routes_declare_permission(app: FastAPI) -> None:
    """Every route of `app` is an API route declaring exactly one permission."""
    bad: list[str] = []
    for route in app.routes:
        path = getattr(route, "path", repr(route))
        if not isinstance(route, APIRoute):
            # a mount or an included router: its routes are not listed here, so not checked
            bad.append(f"{path} (not an API route declared on the app)")
        elif len(declared := permissions_of(route)) != 1:
            bad.append(f"{path} (declares {len(declared)} permissions, not one)")
    if bad:
        raise RuntimeError("routes without exactly one declared permission: " + ", ".join(bad))
