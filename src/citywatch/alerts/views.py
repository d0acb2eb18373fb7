"""Looking at alerts, as the API and the console both do it: within the caller's camera scope
(a refusal audited), after what a lapsed authorisation derived is gone, every view audited
(`alert.view`). Routes parse and render; this decides what is seen and records that it was."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from citywatch.alerts.store import AlertStore
from citywatch.audit.hooks import Audit
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import OutOfScope, PermissionDenied
from citywatch.domain.records import AlertInfo
from citywatch.domain.watchlists import AlertStatus
from citywatch.governance.service import GovernanceService


@dataclass(frozen=True, slots=True)
class AlertViews:
    """What looking at alerts draws on."""

    alerts: AlertStore
    governance: GovernanceService
    """Enforced before each look: what a lapsed authorisation derived is gone."""
    audit: Audit
    """Records each view and refusal as the caller."""


def view_page(
    views: AlertViews,
    actor: Actor,
    *,
    limit: int,
    before_id: int | None = None,
    status: AlertStatus | None = None,
    camera: str | None = None,
    path: str,
) -> list[AlertInfo]:
    """A page of the alerts `actor` may see, newest first (only `camera`'s when given, which
    must be within their scope: refused and audited otherwise). Audited (`alert.view`)."""
    if camera is not None:
        require_camera(views.audit, actor, Permission.ALERTS_READ, camera, path)
    views.governance.enforce()  # what a lapsed authorisation derived is gone before anyone looks
    rows = views.alerts.alerts_page(
        limit, before_id=before_id, status=status, camera_id=camera, camera_ids=actor.cameras
    )
    params = {"status": status, "camera": camera, "limit": limit, "before_id": before_id}
    views.audit(viewed(Action.ALERT_VIEW, "alerts", [a.id for a in rows], params), actor)
    return rows


def view_one(views: AlertViews, actor: Actor, alert_id: int, *, path: str) -> AlertInfo:
    """One alert, if its camera is within `actor`'s scope (refused and audited otherwise).
    Audited (`alert.view`). NotFound when there is none, or none any longer once what a
    lapsed authorisation derived is gone."""
    views.governance.enforce()  # what a lapsed authorisation derived is gone before anyone looks
    alert = views.alerts.get_alert(alert_id)
    require_camera(
        views.audit, actor, Permission.ALERTS_READ, alert.camera_id, path, unseen=no_alert(alert_id)
    )
    views.audit(
        AuditEvent(Action.ALERT_VIEW, f"alert:{alert.id}", params={"ids": [alert.id]}, result_count=1), actor
    )
    return alert


def no_alert(alert_id: int) -> str:
    """What an alert that does not exist, or lies outside the caller's scope, is answered."""
    return f"no alert with id {alert_id}"


def require_camera(
    audit: Audit, actor: Actor, permission: Permission, camera: str, path: str, *, unseen: str | None = None
) -> None:
    """Refuse, audited, what lies outside the caller's camera scope: the audit record names the
    camera, never the person. A role without `permission` is refused (PermissionDenied); a
    camera outside the scope is answered as what does not exist (OutOfScope, a NotFound):
    `unseen` is the message an object that does not exist gets (default: no such camera).
    `audit` records the refusal as `actor`."""
    if can(actor, permission, camera):
        return
    params = {"permission": str(permission), "cameras": [camera]}
    audit(AuditEvent(Action.ACCESS_REFUSED, f"api:{path}", params=params), actor)
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
