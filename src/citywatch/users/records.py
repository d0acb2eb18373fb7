"""Users and tokens as records, and the checks of what an account is made of: names, roles,
camera scopes, passwords, token labels."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from citywatch.domain.access import ACCOUNT_ROLES
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput, PermissionDenied
from citywatch.store.governance_tables import ApiTokenRow, UserRow

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"[A-Za-z0-9._@-]{1,100}")
CAMERA_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""As `config.ingest.CameraId`."""
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
"""Longer input is refused before hashing: argon2 cost should not be the caller's to choose."""
TOKEN_PREFIX = "cw_"  # noqa: S105 (a prefix that marks tokens, not a secret)
MAX_LABEL = 200


NAME_PATTERN = re.compile(r"[A-Za-z0-9._@-]{1,100}")


CAMERA_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""As `config.ingest.CameraId`."""


MIN_PASSWORD = 12


MAX_PASSWORD = 1024
"""Longer input is refused before hashing: argon2 cost should not be the caller's to choose."""


MAX_LABEL = 200


class TokenRefused(PermissionDenied):
    """A token that signs nobody in, with what its audit record names: the token (`token:ID`,
    or `token:?` when unknown) and why (unknown, revoked, expired, user disabled)."""

    def __init__(self, message: str, *, target: str, reason: str) -> None:
        super().__init__(message)
        self.target = target
        self.reason = reason


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    name: str
    role: str
    cameras: tuple[str, ...] | None
    """Camera ids the user is limited to; None: every camera."""
    has_password: bool
    active: bool
    tokens: int
    """API tokens not revoked."""
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    user: str
    label: str
    service: bool
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: `token` is the only copy there will ever be."""

    id: int
    user: str
    label: str
    service: bool
    token: str = field(repr=False)
    expires_at: datetime | None = None
    """A console session's end; null for an API token."""


def password_matches(hasher: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except VerifyMismatchError:
        return False
    except InvalidHashError:
        log.warning("a stored password hash is not a valid argon2 hash; that user cannot sign in")
        return False
    except VerificationError:
        return False


def check_name(name: str) -> str:
    if NAME_PATTERN.fullmatch(name) is None:
        raise InvalidInput(f"user name {name!r} is not valid: 1 to 100 letters, digits, '.', '_', '-' or '@'")
    return name


def check_role(role: str) -> str:
    if role not in ACCOUNT_ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ACCOUNT_ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password is too long: at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise InvalidInput("the password must not be blank")
    return password


def check_cameras(cameras: Iterable[str] | None) -> tuple[str, ...] | None:
    """Sorted, without repeats; None means every camera, an empty list is refused."""
    if cameras is None:
        return None
    scope = tuple(sorted(set(cameras)))
    if not scope:
        raise InvalidInput("give at least one camera id, or none at all for every camera")
    bad = [c for c in scope if CAMERA_PATTERN.fullmatch(c) is None]
    if bad:
        raise InvalidInput(
            f"camera id(s) {', '.join(map(repr, bad))} not valid: 1 to 64 letters, digits, '_', '.' or '-'"
        )
    return scope


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def checked_label(label: str) -> str:
    stripped = label.strip()
    if not stripped:
        raise InvalidInput("a token needs a label saying what it is for")
    if len(stripped) > MAX_LABEL:
        raise InvalidInput(f"the token label is longer than {MAX_LABEL} characters")
    return stripped


def scope_of(row: UserRow) -> tuple[str, ...] | None:
    if row.cameras is None:
        return None
    return tuple(str(c) for c in json.loads(row.cameras))


def plain_scope(scope: tuple[str, ...] | None) -> list[str] | None:
    return None if scope is None else list(scope)


def actor_of(row: UserRow, *, service: bool) -> Actor:
    scope = scope_of(row)
    return Actor(row.name, row.role, None if scope is None else frozenset(scope), service)


def user_info(row: UserRow, tokens: int) -> UserInfo:
    return UserInfo(
        id=row.id,
        name=row.name,
        role=row.role,
        cameras=scope_of(row),
        has_password=row.password_hash is not None,
        active=row.active,
        tokens=tokens,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def token_info(row: ApiTokenRow, user: str) -> TokenInfo:
    return TokenInfo(row.id, user, row.label, row.service, row.created_at, row.revoked_at, row.expires_at)
