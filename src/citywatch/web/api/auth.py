"""Who calls: bearer tokens (machines) or the console's session cookie (browsers), both from
the users' service, and each route's one declared permission.

A cookie signs in only same-site requests: it is `SameSite=Strict`, and a state-changing
request that carries it from another origin is refused (cross-site request forgery). A browser
page (not under `/api/`) without a session is sent to the sign-in page instead of a 401.

Default deny: `create_app` refuses to build an app with a route that declares none, and a
test walks `app.routes` for the same."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any, cast
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import PermissionDenied
from citywatch.runtime.build import Runtime
from citywatch.users.records import TokenRefused
from citywatch.users.service import UserService
from citywatch.web.api.uploads import Failure, RateLimit

ANONYMOUS = Actor("anonymous", "public")
"""Whoever calls a public route; not signed in (its token, if any, is not even read)."""

_bearer = HTTPBearer(auto_error=False, description="An API token: `citywatch user token issue`.")

SESSION_COOKIE = "citywatch_session"
"""The console's sign-in: an expiring token (`UserService.open_session`), HttpOnly, SameSite=Strict."""

LOGIN_PAGE = "/login"
MACHINE_PATHS = ("/api/", "/metrics")
"""Paths read by programs (a Prometheus scraper too), which answer 401 without a sign-in;
any other page sends a browser to the sign-in page instead. Either way the route's one
permission applies."""
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIGN_IN_WINDOW_S = 15 * 60.0
"""The window of the sign-in rate limits (password tries, failed token sign-ins)."""
AUDITED_FAILURES_FACTOR = 10
"""Failed token sign-ins recorded in a window across all addresses, as a multiple of the
limit per address; past it failures are still refused (401), without a record."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in actor of a request, and the token that signed them in (for routes that
    stay open and check it again)."""

    actor: Actor
    token: str = field(default="", repr=False)


def runtime_of(request: Request) -> Runtime:
    """The app's one runtime (set by `create_app`)."""
    return cast(Runtime, request.app.state.runtime)


def sign_ins(request: Request) -> UserService:
    """The users' service that signs callers in: a sign-in is recorded as the person signing in,
    a failed one as the public (never as the account the server runs under)."""
    store: UserService = request.app.state.sign_ins
    return store


def session_actor(request: Request) -> Actor | None:
    """Who the request's session cookie signs in, if anyone (for a public page that shows a
    signed-in browser its navigation); never raises. A cookie that signs nobody in is not
    audited: it opens nothing here, and anyone may send one (`clear_stale_session` drops it)."""
    token = request.cookies.get(SESSION_COOKIE, "").strip()
    if not token:
        return None
    try:
        return sign_ins(request).actor_for_token(token, audit_failure=False)
    except PermissionDenied:
        return None


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to forget its session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def clear_stale_session(request: Request, response: Response, actor: Actor | None) -> None:
    """On a page that looked the session up (`session_actor`): a cookie that signed nobody in
    (expired, revoked, made up) is cleared, so that the browser stops sending it."""
    if actor is None and request.cookies.get(SESSION_COOKIE):
        clear_session_cookie(response)


def add_sign_ins(app: FastAPI, runtime: Runtime) -> None:
    """One store for the app's life (it keeps the dummy hash that makes a wrong name as slow
    as a wrong password), the count of failed token sign-ins per address (and of the ones
    recorded across all addresses), of wrong passwords per user name, and the key that
    pseudonymises addresses in the audit log."""
    per_address = runtime.settings.api.failed_token_sign_ins_per_15min
    app.state.sign_ins = runtime.users_as(ANONYMOUS)
    app.state.token_failures = RateLimit(
        per_address, SIGN_IN_WINDOW_S, audited_per_window=AUDITED_FAILURES_FACTOR * per_address
    )
    app.state.password_failures = RateLimit(
        runtime.settings.api.password_failures_per_account, SIGN_IN_WINDOW_S
    )
    app.state.address_key = secrets.token_bytes(32)


def client_address(request: Request) -> str:
    """The address that rate limits count per (the proxy's, behind a reverse proxy)."""
    return request.client.host if request.client else "unknown"


class Authorize:
    """The dependency each route declares once: the caller, signed in by bearer token or
    session cookie and allowed `permission` (401 without a valid token, 403 without the
    permission). A valid token always signs in; only failures are limited, per address
    (`failed_token_sign_ins_per_15min`, then 429) and, for their audit records, across all.
    `audited`: a signed-in caller refused for want of the permission is recorded
    (`access.refused`, naming the route), as the command line records every refusal."""

    def __init__(self, permission: Permission, *, audited: bool = False) -> None:
        self.permission = permission
        self.audited = audited

    def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        if self.permission is Permission.PUBLIC:
            return Caller(ANONYMOUS)
        token = _bearer_token(credentials)
        if token is None and (token := request.cookies.get(SESSION_COOKIE, "").strip()):
            check_same_origin(request)
        if not token:
            raise _sign_in_needed(request, "sign in with an API token (Authorization: Bearer …)")
        actor = _sign_in(request, token)
        if not can(actor, self.permission):
            if self.audited:
                params = {"permission": self.permission.value}
                event = AuditEvent(Action.ACCESS_REFUSED, f"api:{request.url.path}", params=params)
                runtime_of(request).audit(event, actor=actor)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{actor.name} ({actor.role}) may not do this: it needs {self.permission.value}",
            )
        return Caller(actor, token)


def _sign_in(request: Request, token: str) -> Actor:
    """Who `token` signs in. It is always looked up (a read, no write lock), so that a flood of
    bogus tokens from an address (a NAT, a reverse proxy) never locks its good tokens out. A
    failure counts against the address: within its limit it is audited (`user.login_failed`)
    and answered 401; past it, 429 without a record, and the failure that crosses the limit
    writes one `auth.rate_limited` per window, so the start of a flood is on record."""
    users = sign_ins(request)
    try:
        return users.actor_for_token(token, audit_failure=False)
    except TokenRefused as exc:
        refused = exc
    failures: RateLimit = request.app.state.token_failures
    verdict = failures.fail(client_address(request))
    if verdict.address_crossed:
        record_rate_limited(request, f"address:{_pseudonym(request, verdict.key)}", failures.per_window)
    if verdict.everyone_crossed:
        record_rate_limited(request, "address:*", failures.audited_per_window)
    if verdict.failure is Failure.REFUSED:
        raise verdict.refusal()
    if verdict.failure is Failure.AUDIT:
        users.record_refusal(refused)
    raise _sign_in_needed(request, str(refused)) from None


def record_rate_limited(request: Request, target: str, limit: int | None) -> None:
    """One `auth.rate_limited` record: `target` crossed a sign-in limit of `limit` per window."""
    params = {"failures": limit, "window_s": int(SIGN_IN_WINDOW_S)}
    runtime_of(request).audit(AuditEvent(Action.AUTH_RATE_LIMITED, target, params=params), actor=ANONYMOUS)


def _pseudonym(request: Request, key: str) -> str:
    """An address as the audit log names it: a keyed hash (the key lives as long as the app),
    so that one flood's records can be told apart without storing whose address it was."""
    secret: bytes = request.app.state.address_key
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:16]


def requires(permission: Permission, *, audited: bool = False) -> Any:
    """`caller: Annotated[Caller, requires(Permission.X)]`: a route's declared permission;
    `audited`: its refusals recorded (see `Authorize`)."""
    return Depends(Authorize(permission, audited=audited))


def permissions_of(route: APIRoute) -> list[Permission]:
    """The permissions `route` declares: exactly one, or `create_app` refuses the app."""
    found: list[Permission] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Authorize):
            found.append(dependency.call.permission)
        pending.extend(dependency.dependencies)
    return found


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is None or not credentials.credentials.strip():
        return None
    return credentials.credentials.strip()


def check_same_origin(request: Request, *, unnamed_ok: bool = False) -> None:
    """A state-changing request signed in by cookie must come from the console's own pages:
    its `Origin` (else `Referer`) names this host. Reads (GET) need no check. `unnamed_ok`:
    a request that names no origin at all passes (a program, not a browser, for a route that
    needs no cookie); one that names another site (or `null`) never does."""
    if request.method in _SAFE_METHODS:
        return
    source = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("host", "")
    if source is None and unnamed_ok:
        return
    if source is None or urlsplit(source).netloc != host:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a signed-in browser request must come from the console's own pages (Origin differs)",
        )


def _sign_in_needed(request: Request, detail: str) -> HTTPException:
    """401 for the API; for a console page, a redirect to the sign-in page that comes back."""
    path = request.url.path
    if not path.startswith(MACHINE_PATHS) and request.method in _SAFE_METHODS:
        back = path + (f"?{request.url.query}" if request.url.query else "")
        location = f"{LOGIN_PAGE}?next={quote(back, safe='/')}"
        return HTTPException(status.HTTP_303_SEE_OTHER, detail, headers={"Location": location})
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})
