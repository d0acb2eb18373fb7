"""AlertReviews: acknowledge, confirm and dismiss alerts; confirming needs two people.

An alert is `confirmed` only when two distinct people (never a service token) have
confirmed it; one confirmation leaves it `acknowledged`. Confirmed and dismissed are final.
Each step is one transaction with its audit record; a refusal is audited on its own.
The full lifecycle (cooldowns, remembered non-matches) belongs to a later alerts stage.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from citywatch.audit.access import Permission
from citywatch.audit.two_person import second_person_problem
from citywatch.domain.audit import Actor, AuditEvent
from citywatch.domain.errors import Conflict, NotFound, PermissionDenied
from citywatch.store import repositories as repo
from citywatch.store.changes import ActorAuditHook
from citywatch.store.db import Database
from citywatch.store.facade import utc_now
from citywatch.store.records import AlertInfo, AlertReview, AlertStatus
from citywatch.store.tables import Alert

CONFIRMATIONS_NEEDED = 2
FINAL = frozenset({AlertStatus.CONFIRMED.value, AlertStatus.DISMISSED.value})


class AlertReviews:
    def __init__(
        self, db: Database, *, audit: ActorAuditHook | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    def _record(self, session: Session, actor: Actor, event: AuditEvent) -> None:
        if self._audit is not None:
            self._audit(session, actor, event)

    def acknowledge(self, alert_id: int, actor: Actor) -> AlertReview:
        """Someone is looking at it: `new` becomes `acknowledged`."""
        with self._db.session() as session:
            alert = _require_open(session, alert_id)
            alert.status = AlertStatus.ACKNOWLEDGED.value
            self._record(session, actor, AuditEvent("alert.acknowledge", f"alert:{alert_id}"))
            return _review(session, alert)

    def confirm(self, alert_id: int, actor: Actor) -> AlertReview:
        """Add `actor`'s confirmation; the second, by a different person, confirms the alert.
        A confirmation the two-person rule refuses is audited and raised as PermissionDenied."""
        with self._db.session() as session:
            alert = _require_open(session, alert_id)
            confirmations = repo.confirmations_of(session, alert_id)
            problem = _confirmation_problem(actor, [Actor(c.actor, c.role) for c in confirmations])
            if problem is not None:
                params = {"confirmed_by": [c.actor for c in confirmations], "reason": problem}
                self._record(
                    session, actor, AuditEvent("alert.confirm_refused", f"alert:{alert_id}", params=params)
                )
            else:
                repo.insert_confirmation(
                    session, alert_id=alert_id, actor=actor.name, role=actor.role, now=self._clock()
                )
                count = len(confirmations) + 1
                alert.status = (
                    AlertStatus.CONFIRMED.value
                    if count >= CONFIRMATIONS_NEEDED
                    else AlertStatus.ACKNOWLEDGED.value
                )
                event = AuditEvent(
                    "alert.confirm",
                    f"alert:{alert_id}",
                    params={"confirmations": count, "needed": CONFIRMATIONS_NEEDED, "status": alert.status},
                )
                self._record(session, actor, event)
                return _review(session, alert)
        raise PermissionDenied(f"alert {alert_id} not confirmed: {problem}")

    def dismiss(self, alert_id: int, actor: Actor, reason: str = "") -> AlertReview:
        """Close the alert as not actionable (a wrong match, or nothing to do)."""
        with self._db.session() as session:
            alert = _require_open(session, alert_id)
            alert.status = AlertStatus.DISMISSED.value
            event = AuditEvent("alert.dismiss", f"alert:{alert_id}", params={"reason": reason.strip()})
            self._record(session, actor, event)
            return _review(session, alert)


def _confirmation_problem(actor: Actor, earlier: list[Actor]) -> str | None:
    if actor.service:
        return f"{actor.name} acts through a service token, which is not a person: a person must confirm"
    if not earlier:
        return None
    return second_person_problem(earlier[0], actor, Permission.ALERTS_ACT)


def _require_open(session: Session, alert_id: int) -> Alert:
    alert = repo.alert_by_id(session, alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    if alert.status in FINAL:
        raise Conflict(f"alert {alert_id} is already {alert.status} and cannot change again")
    return alert


def _review(session: Session, alert: Alert) -> AlertReview:
    session.flush()
    info = AlertInfo(
        id=alert.id,
        sighting_id=alert.sighting_id,
        camera_id=alert.camera_id,
        person_id=alert.person_id,
        person_name=alert.person_name,
        watchlist_id=alert.watchlist_id,
        watchlist_name=alert.watchlist_name,
        distance=alert.distance,
        status=AlertStatus(alert.status),
        created_at=alert.created_at,
    )
    return AlertReview(info, tuple(c.actor for c in repo.confirmations_of(session, alert.id)))


__all__ = ["CONFIRMATIONS_NEEDED", "AlertReviews"]
