"""Looking at alerts, as the API and the console both do it: within the caller's camera scope
(a refusal audited), after what a lapsed authorisation derived is gone, every view audited
(`alert.view`). Routes parse and render; this decides what is seen and records that it was."""

from __future__ import annotations

from dataclasses import dataclass

from citywatch.alerts.store import AlertStore
from citywatch.audit.hooks import Audit
from citywatch.audit.looks import require_camera, viewed
from citywatch.domain.access import Permission
from citywatch.domain.audit import Action, Actor, AuditEvent
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
    asked: str,
) -> list[AlertInfo]:
    """A page of the alerts `actor` may see, newest first (only `camera`'s when given, which
    must be within their scope: refused and audited otherwise). Audited (`alert.view`)."""
    if camera is not None:
        require_camera(views.audit, actor, Permission.ALERTS_READ, camera, asked)
    views.governance.enforce()  # what a lapsed authorisation derived is gone before anyone looks
    rows = views.alerts.alerts_page(
        limit, before_id=before_id, status=status, camera_id=camera, camera_ids=actor.cameras
    )
    params = {"status": status, "camera": camera, "limit": limit, "before_id": before_id}
    views.audit(viewed(Action.ALERT_VIEW, "alerts", [a.id for a in rows], params), actor)
    return rows


def view_one(views: AlertViews, actor: Actor, alert_id: int, *, asked: str) -> AlertInfo:
    """One alert, if its camera is within `actor`'s scope (refused and audited otherwise).
    Audited (`alert.view`). NotFound when there is none, or none any longer once what a
    lapsed authorisation derived is gone."""
    views.governance.enforce()  # what a lapsed authorisation derived is gone before anyone looks
    alert = views.alerts.get_alert(alert_id)
    require_camera(
        views.audit, actor, Permission.ALERTS_READ, alert.camera_id, asked, unseen=no_alert(alert_id)
    )
    views.audit(
        AuditEvent(Action.ALERT_VIEW, f"alert:{alert.id}", params={"ids": [alert.id]}, result_count=1), actor
    )
    return alert


def no_alert(alert_id: int) -> str:
    """What an alert that does not exist, or lies outside the caller's scope, is answered."""
    return f"no alert with id {alert_id}"


def missed(views: AlertViews, actor: Actor, after_id: int, *, page: int) -> list[AlertInfo]:
    """The alerts after `after_id` within `actor`'s camera scope, oldest first, every page of
    them: the live stream's replay, whose opening is what is audited (`alerts.stream`). What a
    lapsed authorisation derived is gone first, as for every other read of alerts."""
    views.governance.enforce()
    found: list[AlertInfo] = []
    while True:
        rows = views.alerts.alerts_after(after_id, page, camera_ids=actor.cameras)
        found.extend(rows)
        if len(rows) < page:
            return found
        after_id = rows[-1].id


def of_order(views: AlertViews, actor: Actor, order_id: int, *, limit: int) -> list[AlertInfo]:
    """The latest alerts about stay-at-home order `order_id` within `actor`'s camera scope
    (the order's violations). The page that shows them records the view (`alert.view`), once
    for all the orders it lists; the caller enforces the authorisations before."""
    return views.alerts.alerts_page(limit, order_id=order_id, camera_ids=actor.cameras)
