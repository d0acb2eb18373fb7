"""`create_app(runtime)`: the FastAPI app over the one runtime; errors mapped to HTTP once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from citywatch import __version__
from citywatch.api import alerts
from citywatch.api.auth import Caller, permissions_of, requires
from citywatch.audit.access import Permission
from citywatch.domain.errors import (
    CitywatchError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from citywatch.runtime.build import Runtime

_STATUS: tuple[tuple[type[CitywatchError], int], ...] = (
    (NotFound, status.HTTP_404_NOT_FOUND),
    (PermissionDenied, status.HTTP_403_FORBIDDEN),
    (Conflict, status.HTTP_409_CONFLICT),
    (InvalidInput, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (Unavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
)


class Health(BaseModel):
    status: str
    version: str


def create_app(runtime: Runtime) -> FastAPI:
    """The API over `runtime`. Every route declares exactly one permission (default deny): an
    app with a route that does not is refused here, before it can serve anything."""
    app = FastAPI(
        title="citywatch",
        version=__version__,
        docs_url=None,  # served by declared routes when the console comes (issue 7)
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    runtime.feed  # noqa: B018 (built now, before request threads race to build it)
    app.add_exception_handler(CitywatchError, _citywatch_error)
    alerts.add_routes(app)

    @app.get("/healthz", tags=["operations"])
    def healthz(_: Annotated[Caller, requires(Permission.PUBLIC)]) -> Health:
        """The server is up (it reads nothing else)."""
        return Health(status="ok", version=__version__)

    verify_routes_declare_permission(app)
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


async def _citywatch_error(_request: Request, exc: Exception) -> JSONResponse:
    code = next((c for kind, c in _STATUS if isinstance(exc, kind)), status.HTTP_500_INTERNAL_SERVER_ERROR)
    body: dict[str, Any] = {"detail": str(exc)}
    return JSONResponse(body, status_code=code)
