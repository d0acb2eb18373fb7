"""Tokens for test users, issued the only way the store allows: by their owner, as if signed
in (a front end signs the owner in; the store trusts the actor it is given, as every store
does)."""

from __future__ import annotations

from citywatch.domain.audit import Actor
from citywatch.users.records import IssuedToken
from citywatch.users.service import UserService


def owner(users: UserService, name: str) -> Actor:
    """`name` as signed in: their role and camera scope."""
    u = users.get_user(name)
    return Actor(u.name, u.role, None if u.cameras is None else frozenset(u.cameras))


def own_token(users: UserService, name: str, label: str = "test") -> IssuedToken:
    """A personal token `name` issued themselves."""
    return users.issue_token(name, label, by=owner(users, name))
