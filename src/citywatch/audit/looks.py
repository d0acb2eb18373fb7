"""What every look at recorded data goes through: the camera-scope check (a refusal audited,
naming the camera, never the person) and the record of what was looked at. Below the features
that show sightings, alerts and footage, so that each of them uses the same."""

from __future__ import annotations

from collections.abc import Mapping

from citywatch.audit.hooks import Audit
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import OutOfScope, PermissionDenied


def api(path: str) -> str:
    """What an API route or console page asked, as an audit record names it."""
    return f"api:{path}"


def command(path: str) -> str:
    """What a command asked (`citywatch sightings list`), as an audit record names it."""
    return f"command:{path}"


def require_camera(
    audit: Audit, actor: Actor, permission: Permission, camera: str, asked: str, *, unseen: str | None = None
) -> None:
    """Refuse, audited, what lies outside the caller's camera scope: the audit record names the
    camera, never the person. A role without `permission` is refused (PermissionDenied); a
    camera outside the scope is answered as what does not exist (OutOfScope, a NotFound):
    `unseen` is the message an object that does not exist gets (default: no such camera).
    `asked` names what was asked in the refusal's record (`api(path)`, `command(path)`);
    `audit` records the refusal as `actor`."""
    if can(actor, permission, camera):
        return
    params = {"permission": str(permission), "cameras": [camera]}
    audit(AuditEvent(Action.ACCESS_REFUSED, asked, params=params), actor)
    if not can(actor, permission):
        raise PermissionDenied(f"{actor.name} ({actor.role}) lacks {permission}")
    raise OutOfScope(unseen or f"no camera {camera!r} within your scope")


def viewed(action: Action, what: str, ids: list[int], params: Mapping[str, object]) -> AuditEvent:
    """Looking at sightings or alerts is itself a sensitive act: which ones, by whom."""
    return AuditEvent(
        action,
        f"{what}:{min(ids)}-{max(ids)}" if ids else f"{what}:none",
        params={**{k: v for k, v in params.items() if v is not None}, "ids": ids},
        result_count=len(ids),
    )
