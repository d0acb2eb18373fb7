"""Who calls: bearer tokens from the users store, and each route's one declared permission.

Default deny: `create_app` refuses to build an app with a route that declares none, and a
test walks `app.routes` for the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Request, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from citywatch.audit.access import Permission, can
from citywatch.domain.audit import Actor
from citywatch.domain.errors import PermissionDenied
from citywatch.runtime.build import Runtime

ANONYMOUS = Actor("anonymous", "public")
"""Whoever calls a public route; not signed in (its token, if any, is not even read)."""

_bearer = HTTPBearer(auto_error=False, description="An API token: `citywatch user token issue`.")


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in actor of a request, and the token that signed them in (for routes that
    stay open and check it again)."""

    actor: Actor
    token: str = field(default="", repr=False)


def runtime_of(request: Request) -> Runtime:
    """The app's one runtime (set by `create_app`)."""
    return cast(Runtime, request.app.state.runtime)


class Authorize:
    """The dependency each route declares once: the caller, signed in by bearer token and
    allowed `permission` (401 without a valid token, 403 without the permission)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        if self.permission is Permission.PUBLIC:
            return Caller(ANONYMOUS)
        if credentials is None or not credentials.credentials.strip():
            raise _unauthorised("sign in with an API token (Authorization: Bearer …)")
        token = credentials.credentials.strip()
        try:
            actor = runtime_of(request).users.actor_for_token(token)
        except PermissionDenied as exc:
            raise _unauthorised(str(exc)) from None
        if not can(actor, self.permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{actor.name} ({actor.role}) may not do this: it needs {self.permission.value}",
            )
        return Caller(actor, token)


def requires(permission: Permission) -> Any:
    """`caller: Annotated[Caller, requires(Permission.X)]`: a route's declared permission."""
    return Depends(Authorize(permission))


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


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})
