"""Every command declares its permission here, in one place; `requires` enforces it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from citywatch.audit.looks import command as command_asked
from citywatch.cli.context import CliContext
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, AuditEvent
from citywatch.domain.errors import PermissionDenied
from citywatch.runtime.build import Runtime

P = ParamSpec("P")
R = TypeVar("R")

PERMISSION_ATTR = "__citywatch_permission__"


def requires(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare and enforce the permission a command needs; a refusal is itself audited."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            if permission is not Permission.PUBLIC:
                # Typer hands over its click context (typer.Context or the vendored base class)
                ctx = next((a for a in (*args, *kwargs.values()) if hasattr(a, "find_object")), None)
                _check(permission, ctx)
            return command(*args, **kwargs)

        setattr(checked, PERMISSION_ATTR, permission)
        return checked

    return decorate


def _check(permission: Permission, ctx: Any) -> None:
    obj: Any = None if ctx is None else ctx.find_object(CliContext)
    if ctx is None or obj is None:
        raise PermissionDenied(f"no identity to check {permission} against")
    require_permission(obj.runtime(), permission, ctx.command_path)


def require_permission(rt: Runtime, permission: Permission, command: str) -> None:
    """Refuse, clearly and audited, what the actor's role does not grant (an option of a
    command that needs more than the command itself, e.g. binding watchlists)."""
    if can(rt.actor, permission):
        return
    rt.audit(
        AuditEvent(Action.ACCESS_REFUSED, command_asked(command), params={"permission": str(permission)})
    )
    raise PermissionDenied(f"{command} needs the {permission} permission, which role {rt.actor.role} lacks")


def require_cameras(rt: Runtime, permission: Permission, cameras: Iterable[str], command: str) -> None:
    """Refuse, clearly and audited, an action on cameras outside the actor's scope (or one
    whose role lacks `permission` altogether)."""
    wanted = sorted(set(cameras))
    actor = rt.actor
    if not can(actor, permission):
        outside = wanted
        message = f"{command} needs the {permission} permission, which role {actor.role} lacks"
    else:
        outside = [c for c in wanted if not can(actor, permission, c)]
        if not outside:
            return
        scope = ", ".join(sorted(actor.cameras or ())) or "none"
        message = f"{command}: {actor.name} may not use camera(s) {', '.join(outside)} (limited to: {scope})"
    params = {"permission": str(permission), "cameras": outside}
    rt.audit(AuditEvent(Action.ACCESS_REFUSED, command_asked(command), params=params))
    raise PermissionDenied(message)
