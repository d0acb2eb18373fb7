"""Console sign-in: a password exchanged for an expiring session token in an HttpOnly,
SameSite=Strict cookie (`POST /api/session`), signed out by `DELETE /api/session`.

Machines use bearer tokens instead (`citywatch user token issue`); both reach the same
`Authorize` dependency, so a route's permission is declared once whichever signs in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Body, FastAPI, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from citywatch.domain.access import Permission
from citywatch.domain.audit import Actor
from citywatch.domain.errors import CitywatchError, PermissionDenied
from citywatch.web.api.auth import (
    SESSION_COOKIE,
    SIGN_IN_WINDOW_S,
    Caller,
    check_same_origin,
    clear_session_cookie,
    client_address,
    record_rate_limited,
    requires,
    runtime_of,
    sign_ins,
)
from citywatch.web.api.schemas.common import problems
from citywatch.web.api.uploads import RateLimit


class Credentials(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "sam", "password": "correct horse battery"}]}
    )

    name: str = Field(min_length=1, max_length=200, description="The user name.")
    password: str = Field(min_length=1, max_length=1024, description="The user's password.")


class SessionPublic(BaseModel):
    """Who is signed in, and until when."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "sam", "role": "supervisor", "cameras": None, "expires_at": "2026-11-27T21:00:00Z"}
            ]
        }
    )

    name: str
    role: str
    cameras: list[str] | None = Field(description="The cameras this user may see; null: all of them.")
    expires_at: datetime


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    app.state.logins = RateLimit(app.state.runtime.settings.api.logins_per_15min, SIGN_IN_WINDOW_S)
    app.add_api_route(
        "/api/session",
        open_session,
        methods=["POST"],
        tags=["session"],
        responses=problems(403, 422, 429),
    )
    app.add_api_route(
        "/api/session",
        close_session,
        methods=["DELETE"],
        tags=["session"],
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
    )


def open_session(
    request: Request,
    response: Response,
    credentials: Annotated[Credentials, Body()],
    _: Annotated[Caller, requires(Permission.PUBLIC)],
) -> SessionPublic:
    """Sign in with a password; the session cookie comes back with the answer. A wrong name or
    password is refused (403) in the same words either way; too many tries from one address,
    or too many wrong passwords for one name from anywhere, are refused (429), and so is a
    sign-in sent from another site's page (403)."""
    # a browser names the page it posts from: another site's page may not sign it in (login
    # CSRF, or ending its session); a program names none and carries the password itself
    check_same_origin(request, unnamed_ok=True)
    return sign_in(request, response, credentials.name, credentials.password)


def close_session(request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]) -> Response:
    """Sign out: the session's token stops working at once and the cookie is cleared."""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    sign_out(request, response)
    return response


def sign_in(request: Request, response: Response, name: str, password: str) -> SessionPublic:
    """Check the password (rate-limited per address, and per name: `check_account`), open a
    session, end the one the browser's cookie named before (if any) and set the new cookie on
    `response`. Raises PermissionDenied (403) for a wrong name or password (the earlier
    session then stays). Blocking (a password hash): call it off the event loop."""
    rt = runtime_of(request)
    limiter: RateLimit = request.app.state.logins
    limiter.check(client_address(request))
    settings = rt.settings.api
    users = sign_ins(request)
    check_account(request, name)
    try:
        issued = users.open_session(name, password, timedelta(hours=settings.session_hours))
    except PermissionDenied:
        count_wrong_password(request, name)
        raise
    if (expires_at := issued.expires_at) is None:  # open_session always sets one: never hand out
        raise CitywatchError("a console session was opened without an end; it was not handed out")
    # the session this browser had (if any) ends: one browser, one session, and a cookie
    # planted before the sign-in (session fixation) or left from an earlier one is dead
    if (earlier := request.cookies.get(SESSION_COOKIE, "").strip()) and earlier != issued.token:
        users.end_session(earlier)
    actor = users.actor_for_token(issued.token)
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return _public(actor, expires_at)


def check_account(request: Request, name: str) -> None:
    """429 (the password unchecked) while `name` is locked: it was given
    `api.password_failures_per_account` wrong passwords within the window, from any addresses.
    A name that exists and one that does not are locked alike, in the same words, so that the
    lock tells nobody which names exist."""
    accounts: RateLimit = request.app.state.password_failures
    if wait_s := accounts.locked(name):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many wrong passwords for this user name; try again in {wait_s} s",
            headers={"Retry-After": str(wait_s)},
        )


def count_wrong_password(request: Request, name: str) -> None:
    """Count a wrong password for `name`; the one that locks it is audited (once per lock)."""
    accounts: RateLimit = request.app.state.password_failures
    if accounts.strike(name):
        record_rate_limited(request, f"user:{name}", accounts.per_window)


def sign_out(request: Request, response: Response) -> None:
    """End the request's session (if any) and clear its cookie on `response`."""
    token = request.cookies.get(SESSION_COOKIE, "").strip()
    if token:
        sign_ins(request).end_session(token)
    clear_session_cookie(response)


def _public(actor: Actor, expires_at: datetime) -> SessionPublic:
    cameras = None if actor.cameras is None else sorted(actor.cameras)
    return SessionPublic(name=actor.name, role=actor.role, cameras=cameras, expires_at=expires_at)
