"""User and API token routes: accounts, roles, camera scopes, passwords, disabling, and
tokens (issued once, listed without the secret, revoked). Thin over the users' service (as
`citywatch user …`), which validates and audits each change, here as the signed-in caller
(`Runtime.users_as`). Never a password or a token in a response but the one issued."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

from fastapi import Body, FastAPI, Path, Query, Request, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from citywatch.domain.access import ACCOUNT_ROLES, Permission
from citywatch.domain.values import page_of
from citywatch.users.records import MAX_LABEL, MAX_PASSWORD, TokenInfo
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import NEXT_BEFORE_ID, PAGE_DEFAULT, BeforeId, Limit
from citywatch.web.api.schemas.common import SIGNED_IN, problems

UserName = Annotated[str, Path(pattern=r"^[A-Za-z0-9._@-]{1,100}$", description="The user's name.")]
TokenId = Annotated[int, Path(ge=1, description="The token's id.")]


def _account_role(role: str) -> str:
    if role not in ACCOUNT_ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ACCOUNT_ROLES)}")
    return role


RoleName = Annotated[
    str, AfterValidator(_account_role), WithJsonSchema({"type": "string", "enum": list(ACCOUNT_ROLES)})
]
"""A role a user account can hold (domain.access.ACCOUNT_ROLES)."""


CameraIds = list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]]

# --- schemas ---------------------------------------------------------------------------------


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "olga", "role": "operator", "cameras": ["gate-1"]}]},
    )

    name: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,100}$", description="Letters, digits, . _ - @.")
    role: RoleName
    cameras: CameraIds | None = Field(
        None, min_length=1, max_length=500, description="Limit to these cameras; null: every camera."
    )
    password: str | None = Field(
        None,
        max_length=MAX_PASSWORD,
        description="At least 12 characters; null: the user signs in with API tokens only.",
    )


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "supervisor"}]})

    role: RoleName


class CamerasChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"cameras": ["gate-1"]}]})

    cameras: CameraIds | None = Field(
        min_length=1, max_length=500, description="Limit to these cameras; null lifts the limit."
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "correct horse battery staple"}]}
    )

    password: str | None = Field(
        max_length=MAX_PASSWORD, description="The new password; null removes it (tokens only)."
    )


class UserPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "name": "olga",
                    "role": "operator",
                    "cameras": ["gate-1"],
                    "has_password": True,
                    "active": True,
                    "tokens": 1,
                    "created_by": "ada",
                    "created_at": "2026-11-01T08:00:00Z",
                }
            ]
        },
    )

    id: int
    name: str
    role: str
    cameras: list[str] | None = Field(description="The cameras the user is limited to; null: every camera.")
    has_password: bool
    active: bool
    tokens: int = Field(description="API tokens (and console sessions) not revoked.")
    created_by: str
    created_at: datetime


class UserList(BaseModel):
    items: list[UserPublic] = Field(description="Newest first.")
    next_before_id: int | None = Field(description=NEXT_BEFORE_ID)


class TokenCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"label": "alert relay", "service": True}]}
    )

    label: str = Field(min_length=1, max_length=MAX_LABEL, description="What the token is for.")
    service: bool = Field(False, description="A machine's token: never a person of the two-person rule.")


class OwnTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"label": "laptop"}]})

    label: str = Field(min_length=1, max_length=MAX_LABEL, description="What the token is for.")


class OwnPasswordChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"current_password": "the one I was given", "password": "correct horse battery"}]
        },
    )

    current_password: str = Field(
        max_length=MAX_PASSWORD, description="The password now: proves who you are."
    )
    password: str = Field(max_length=MAX_PASSWORD, description="The new password: at least 12 characters.")


class TokenPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 9,
                    "user": "olga",
                    "label": "alert relay",
                    "service": True,
                    "created_at": "2026-11-27T09:00:00Z",
                    "revoked_at": None,
                    "expires_at": None,
                }
            ]
        },
    )

    id: int
    user: str
    label: str
    service: bool
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = Field(description="A console session's end; null for an API token.")


class TokenList(BaseModel):
    items: list[TokenPublic] = Field(description="Newest first; never the tokens themselves.")
    next_before_id: int | None = Field(description=NEXT_BEFORE_ID)


class TokenIssued(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": 9, "user": "olga", "label": "alert relay", "service": True, "token": "cw_5Jw…"}
            ]
        }
    )

    id: int
    user: str
    label: str
    service: bool
    token: str = Field(description="The token: shown this once, only its SHA-256 is kept.")


# --- routes ----------------------------------------------------------------------------------


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    users: list[str | Enum] = ["users"]
    route = app.add_api_route
    route("/api/users", list_users, methods=["GET"], tags=users, responses=problems(*SIGNED_IN))
    route(
        "/api/users",
        add_user,
        methods=["POST"],
        tags=users,
        status_code=status.HTTP_201_CREATED,
        responses=problems(*SIGNED_IN, 409),
    )
    for verb, change in (
        ("role", set_role),
        ("cameras", set_cameras),
        ("password", set_password),
        ("disable", disable),
    ):
        route(
            f"/api/users/{{name}}/{verb}",
            change,
            methods=["POST"],
            tags=users,
            responses=problems(*SIGNED_IN, 404, 409),
        )
    route("/api/tokens", list_tokens, methods=["GET"], tags=users, responses=problems(*SIGNED_IN, 404))
    route(
        "/api/users/{name}/tokens",
        issue_token,
        methods=["POST"],
        tags=users,
        status_code=status.HTTP_201_CREATED,
        responses=problems(*SIGNED_IN, 404, 409),
    )
    route(
        "/api/me/tokens",
        issue_own_token,
        methods=["POST"],
        tags=users,
        status_code=status.HTTP_201_CREATED,
        responses=problems(*SIGNED_IN, 409),
    )
    route("/api/me/password", set_own_password, methods=["POST"], tags=users, responses=problems(*SIGNED_IN))
    route(
        "/api/tokens/{token_id}/revoke",
        revoke_token,
        methods=["POST"],
        tags=users,
        responses=problems(*SIGNED_IN, 404, 409),
    )


def list_users(
    request: Request,
    _: Annotated[Caller, requires(Permission.USERS_MANAGE)],
    *,
    limit: Limit = PAGE_DEFAULT,
    before_id: BeforeId = None,
) -> UserList:
    """Users with their role, camera scope and live tokens."""
    rows, next_before = page_of(
        runtime_of(request).users.list_users(), lambda u: u.id, limit=limit, before_id=before_id
    )
    return UserList(items=[UserPublic.model_validate(u) for u in rows], next_before_id=next_before)


def add_user(
    request: Request, caller: Annotated[Caller, requires(Permission.USERS_MANAGE)], body: UserCreate
) -> UserPublic:
    """Add a user (with a password, or none: API tokens only)."""
    users = runtime_of(request).users_as(caller.actor)
    user = users.add_user(body.name, body.role, body.cameras, body.password, created_by=caller.actor.name)
    return UserPublic.model_validate(user)


def set_role(
    request: Request,
    caller: Annotated[Caller, requires(Permission.USERS_MANAGE)],
    name: UserName,
    body: RoleChange,
) -> UserPublic:
    """Change a user's role."""
    return UserPublic.model_validate(runtime_of(request).users_as(caller.actor).set_role(name, body.role))


def set_cameras(
    request: Request,
    caller: Annotated[Caller, requires(Permission.USERS_MANAGE)],
    name: UserName,
    body: CamerasChange,
) -> UserPublic:
    """Limit a user to some cameras, or lift the limit (`cameras: null`)."""
    return UserPublic.model_validate(
        runtime_of(request).users_as(caller.actor).set_cameras(name, body.cameras)
    )


def set_password(
    request: Request,
    caller: Annotated[Caller, requires(Permission.USERS_MANAGE)],
    name: UserName,
    body: PasswordChange,
) -> UserPublic:
    """Set a user's password, or remove it (`password: null`: API tokens only)."""
    return UserPublic.model_validate(
        runtime_of(request).users_as(caller.actor).set_password(name, body.password)
    )


def disable(
    request: Request, caller: Annotated[Caller, requires(Permission.USERS_MANAGE)], name: UserName
) -> UserPublic:
    """Disable a user for good: no more sign-in, every token revoked."""
    return UserPublic.model_validate(runtime_of(request).users_as(caller.actor).deactivate(name))


def list_tokens(
    request: Request,
    _: Annotated[Caller, requires(Permission.USERS_MANAGE)],
    *,
    user: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9._@-]{1,100}$", description="Only this user's tokens.")
    ] = None,
    limit: Limit = PAGE_DEFAULT,
    before_id: BeforeId = None,
) -> TokenList:
    """API tokens and console sessions (never the tokens themselves: they are not kept)."""
    tokens: list[TokenInfo] = runtime_of(request).users.list_tokens(user)
    rows, next_before = page_of(tokens, lambda t: t.id, limit=limit, before_id=before_id)
    return TokenList(items=[TokenPublic.model_validate(t) for t in rows], next_before_id=next_before)


def issue_token(
    request: Request,
    caller: Annotated[Caller, requires(Permission.USERS_MANAGE)],
    name: UserName,
    body: Annotated[TokenCreate, Body()],
    response: Response,
) -> TokenIssued:
    """Issue a service token for the user (or a personal one for yourself). It is in this
    answer once: only its SHA-256 is kept. A personal token for anyone else is refused (403,
    audited): its owner issues it, signed in as themselves (`POST /api/me/tokens`)."""
    response.headers["Cache-Control"] = "no-store"
    users = runtime_of(request).users_as(caller.actor)
    issued = users.issue_token(name, body.label, body.service, by=caller.actor)
    return TokenIssued(
        id=issued.id, user=issued.user, label=issued.label, service=issued.service, token=issued.token
    )


def issue_own_token(
    request: Request,
    caller: Annotated[Caller, requires(Permission.ACCOUNT_SELF)],
    body: Annotated[OwnTokenCreate, Body()],
    response: Response,
) -> TokenIssued:
    """Issue yourself a personal API token. It is in this answer once: only its SHA-256 is kept."""
    response.headers["Cache-Control"] = "no-store"
    actor = caller.actor
    issued = runtime_of(request).users_as(actor).issue_token(actor.name, body.label, by=actor)
    return TokenIssued(
        id=issued.id, user=issued.user, label=issued.label, service=issued.service, token=issued.token
    )


def set_own_password(
    request: Request,
    caller: Annotated[Caller, requires(Permission.ACCOUNT_SELF)],
    body: OwnPasswordChange,
) -> UserPublic:
    """Set your own password, giving the current one (a wrong one is a failed sign-in). Until
    you do, whoever set your password cannot have you as the second person of their steps."""
    users = runtime_of(request).users_as(caller.actor)
    return UserPublic.model_validate(
        users.change_own_password(caller.actor.name, body.current_password, body.password)
    )


def revoke_token(
    request: Request, caller: Annotated[Caller, requires(Permission.USERS_MANAGE)], token_id: TokenId
) -> TokenPublic:
    """Revoke an API token: it stops working at once."""
    token = runtime_of(request).users_as(caller.actor).revoke_token(token_id)
    return TokenPublic.model_validate(token)
