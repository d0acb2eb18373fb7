"""AlertReviews: acknowledge, confirm and dismiss alerts; confirming needs two people.

new → acknowledged → confirmed (two people) or dismissed. An alert is `confirmed` only when
two distinct people (never a service token) have confirmed it; one confirmation leaves it
`acknowledged`. Confirmed and dismissed are final. Who acknowledged it first and who
decided it (the second confirmer, or whoever dismissed it), and when, are kept on the alert.
Each step is one transaction with its audit record; a refusal is audited on its own. A
user limited to some cameras acts only on those cameras' alerts. People are told apart as
citywatch.audit.two_person tells them apart; the second must also be independent of the
first (not given their account, password or token by them: `independence_problem`).

Dismissing an alert as a false match remembers the face as not that person (a non-match,
audited as `non_match.record`): matching then vetoes a face nearer to it than to the
person's own templates (citywatch.match.index.unless_dismissed). Matched sightings keep
their template in every processing mode, so there is a face to remember unless its
retention has passed or the person has been removed; the review then says why nothing was
remembered. Non-matches expire with the templates' retention (citywatch.retention.purge).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.orm import Session

from citywatch.alerts import memory as alert_memory
from citywatch.alerts.store import alert_info
from citywatch.audit.duties import DEFAULT_INDEPENDENCE, account_history, owners
from citywatch.audit.hooks import ActorAuditHook
from citywatch.audit.two_person import AccountHistory, Owner, second_person_problem
from citywatch.domain.access import Permission
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import Conflict, NotFound, OutOfScope, PermissionDenied
from citywatch.domain.records import AlertReview, AlertStatus
from citywatch.store import sighting_queries
from citywatch.store.db import Database
from citywatch.store.sighting_tables import Alert, Sighting

R = TypeVar("R")

CONFIRMATIONS_NEEDED = 2
FALSE_MATCH = "false match"
"""How a dismissal as a false match begins its recorded reason."""
FINAL = frozenset({AlertStatus.CONFIRMED.value, AlertStatus.DISMISSED.value})


class AlertReviews:
    def __init__(
        self,
        db: Database,
        *,
        audit: ActorAuditHook | None = None,
        clock: Clock = utc_now,
        independence: timedelta = DEFAULT_INDEPENDENCE,
    ) -> None:
        """`independence`: how far before the first confirmation the second confirmer must not
        owe their account to the first (citywatch.audit.two_person.independence_problem)."""
        self._db = db
        self._audit = audit
        self._clock = clock
        self._independence = independence

    def _record(self, session: Session, actor: Actor, event: AuditEvent) -> None:
        if self._audit is not None:
            self._audit(session, actor, event)

    def camera_of(self, alert_id: int) -> str:
        """The camera an alert came from, to check a user's camera scope before acting on it
        (citywatch.cli.permissions.require_cameras); nothing else of the alert."""
        with self._db.session(write=False) as session:
            return _require_alert(session, alert_id).camera_id

    def confirmed_by(self, alert_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """Who has confirmed each of these alerts so far, in order (one confirmation leaves an
        alert `acknowledged`; the alert row names only the second)."""
        with self._db.session(write=False) as session:
            return {
                i: tuple(c.actor for c in sighting_queries.confirmations_of(session, i)) for i in alert_ids
            }

    def acknowledge(self, alert_id: int, actor: Actor) -> AlertReview:
        """Someone is looking at it: `new` becomes `acknowledged`."""

        def step(session: Session, alert: Alert) -> AlertReview:
            alert.status = AlertStatus.ACKNOWLEDGED.value
            self._acknowledged(alert, actor)
            self._record(session, actor, AuditEvent(Action.ALERT_ACKNOWLEDGE, f"alert:{alert_id}"))
            return _review(session, alert)

        return self._act(alert_id, actor, Action.ALERT_ACKNOWLEDGE, step)

    def confirm(self, alert_id: int, actor: Actor) -> AlertReview:
        """Add `actor`'s confirmation; the second, by a different person, confirms the alert.
        A confirmation the two-person rule refuses is audited and raised as PermissionDenied."""
        problem = None

        def step(session: Session, alert: Alert) -> AlertReview | None:
            nonlocal problem
            confirmations = sighting_queries.confirmations_of(session, alert_id)
            history = None
            first_owners: dict[str, tuple[Owner, ...]] = {}
            if confirmations:  # the step began with the first confirmation
                since = min(c.at for c in confirmations) - self._independence
                now = self._clock()
                history = account_history(session, actor.name, since, now)
                first_owners = {c.actor: owners(session, c.actor, since, now) for c in confirmations}
            earlier = [Actor(c.actor, c.role) for c in confirmations]
            problem = _confirmation_problem(actor, earlier, history, first_owners)
            if problem is not None:
                params = {"confirmed_by": [c.actor for c in confirmations], "reason": problem}
                self._record(
                    session,
                    actor,
                    AuditEvent(Action.ALERT_CONFIRM_REFUSED, f"alert:{alert_id}", params=params),
                )
                return None  # committed on its own: the refusal is recorded, nothing else changes
            sighting_queries.insert_confirmation(
                session, alert_id=alert_id, actor=actor.name, role=actor.role, now=self._clock()
            )
            count = len(confirmations) + 1
            self._acknowledged(alert, actor)
            if count >= CONFIRMATIONS_NEEDED:
                alert.status = AlertStatus.CONFIRMED.value
                alert.decided_by, alert.decided_at = actor.name, self._clock()
            else:
                alert.status = AlertStatus.ACKNOWLEDGED.value
            event = AuditEvent(
                Action.ALERT_CONFIRM,
                f"alert:{alert_id}",
                params={"confirmations": count, "needed": CONFIRMATIONS_NEEDED, "status": alert.status},
            )
            self._record(session, actor, event)
            return _review(session, alert)

        review = self._act(alert_id, actor, Action.ALERT_CONFIRM, step)
        if review is None:
            raise PermissionDenied(f"alert {alert_id} not confirmed: {problem}")
        return review

    def dismiss(
        self, alert_id: int, actor: Actor, reason: str = "", *, false_match: bool = False
    ) -> AlertReview:
        """Close the alert as not actionable (a wrong match, or nothing to do).

        `false_match`: it was not this person. The sighting's face is remembered as a
        non-match of the person in the same transaction, so that it does not alert for them
        again; when there is no face to remember, the review says why."""
        reason = reason.strip()

        def step(session: Session, alert: Alert) -> AlertReview:
            alert.status = AlertStatus.DISMISSED.value
            alert.decided_by, alert.decided_at = actor.name, self._clock()
            alert.dismiss_reason = _dismiss_reason(reason, false_match=false_match)
            params: dict[str, object] = {"reason": reason}
            non_match_id, problem = None, ""
            if false_match:
                non_match_id, problem = self._remember(session, alert, actor)
                params |= {"false_match": True, "non_match": non_match_id}
                if problem:
                    params["not_remembered"] = problem
            self._record(session, actor, AuditEvent(Action.ALERT_DISMISS, f"alert:{alert_id}", params=params))
            if non_match_id is not None:
                event = AuditEvent(
                    Action.NON_MATCH_RECORD,
                    f"non_match:{non_match_id}",
                    params={"alert": alert_id, "person_id": alert.person_id, "camera": alert.camera_id},
                )
                self._record(session, actor, event)
            review = _review(session, alert)
            return replace(review, non_match_id=non_match_id, not_remembered=problem)

        return self._act(alert_id, actor, Action.ALERT_DISMISS, step)

    def _remember(self, session: Session, alert: Alert, actor: Actor) -> tuple[int | None, str]:
        """Record the alert's face as not its person: (the non-match's id, "") or (None, why not)."""
        if alert.person_id is None:
            return None, "the person has been removed since: there is no one to tell the face apart from"
        sighting = session.get(Sighting, alert.sighting_id)
        if sighting is None or sighting.template is None:
            return None, "the sighting's template is no longer kept (its retention has passed)"
        row = alert_memory.insert_non_match(
            session,
            person_id=alert.person_id,
            alert_id=alert.id,
            sighting=sighting,
            template=sighting.template,
            recorded_by=actor.name,
            now=self._clock(),
        )
        return row.id, ""

    def _acknowledged(self, alert: Alert, actor: Actor) -> None:
        """The first person to look at it (acknowledging or confirming) and when."""
        if alert.acknowledged_by is None:
            alert.acknowledged_by, alert.acknowledged_at = actor.name, self._clock()

    def _act(self, alert_id: int, actor: Actor, action: Action, step: Callable[[Session, Alert], R]) -> R:
        """Run `step` on the open alert in one transaction, when the alert's camera is within
        `actor`'s scope. Out of scope, the refusal is audited (naming the camera, never the
        person) and answered as an alert that does not exist (OutOfScope), before anything else
        of the alert is told."""
        with self._db.session() as session:
            alert = _require_alert(session, alert_id)
            camera = alert.camera_id
            if actor.cameras is None or camera in actor.cameras:
                _require_open(alert)
                return step(session, alert)
            params = {"permission": str(Permission.ALERTS_ACT), "cameras": [camera], "action": action}
            self._record(
                session, actor, AuditEvent(Action.ACCESS_REFUSED, f"alert:{alert_id}", params=params)
            )
        raise OutOfScope(f"no alert with id {alert_id}")  # as one that does not exist


def _confirmation_problem(
    actor: Actor,
    earlier: list[Actor],
    history: AccountHistory | None = None,
    first_owners: dict[str, tuple[Owner, ...]] | None = None,
) -> str | None:
    """None when `actor` may add a confirmation after `earlier`'s: a person, none of them
    (told apart as the two-person rule tells people apart), and, given the actor's account
    `history` and whom each earlier one owes their account to (`first_owners`), independent
    of each."""
    if actor.service:
        return f"{actor.name} acts through a service token, which is not a person: a person must confirm"
    for first in earlier:
        owed = (first_owners or {}).get(first.name, ())
        problem = second_person_problem(first, actor, Permission.ALERTS_ACT, history, owed)
        if problem is not None:
            return problem
    return None


def _require_alert(session: Session, alert_id: int) -> Alert:
    alert = sighting_queries.alert_by_id(session, alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    return alert


def _require_open(alert: Alert) -> None:
    if alert.status in FINAL:
        raise Conflict(f"alert {alert.id} is already {alert.status} and cannot change again")


def _dismiss_reason(reason: str, *, false_match: bool) -> str | None:
    if false_match:
        return f"{FALSE_MATCH}: {reason}" if reason else FALSE_MATCH
    return reason or None


def _review(session: Session, alert: Alert) -> AlertReview:
    session.flush()
    session.refresh(alert)  # times as stored (UTC), as every other reader sees them
    confirmed_by = tuple(c.actor for c in sighting_queries.confirmations_of(session, alert.id))
    return AlertReview(alert_info(alert), confirmed_by)


__all__ = ["CONFIRMATIONS_NEEDED", "AlertReviews"]
