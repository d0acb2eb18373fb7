"""Raising alerts, the stage after a matched sighting is stored: whether the match raises an
alert (one per person per camera episode: a match within the cooldown of that person's last
alert on the camera raises none), of which kind (a watchlist match, or a stay-at-home order
violated), at which severity (its watchlist's, as it is when raised), and who is told (the
delivery outbox and the live feed, in the same transaction).

It runs inside the sighting's transaction (SightingStore.add_sighting): the sighting, its
alert and the alert's outbox rows commit together or not at all. Transactions that may raise
one queue (`store.db.serialise`) from the cooldown check to their commit, so that two
sightings of one person stored at once raise one alert, and alerts commit in the order of
their ids: a reader that has seen alert N (the live feed's replay from `Last-Event-ID`) never
misses an alert below N committed after it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from citywatch.alerts import memory
from citywatch.domain.matching import Candidate
from citywatch.domain.watchlists import AlertStatus, Severity
from citywatch.store import sighting_queries
from citywatch.store.db import serialise
from citywatch.store.sighting_tables import Alert, Sighting
from citywatch.store.watchlist_tables import Watchlist

AlertHook = Callable[[Session, Alert], None]
"""Told of each new alert inside its transaction (the delivery outbox writes its rows, the
live feed stages it for after the commit)."""

MATCH, ORDER_VIOLATION = "match", "order_violation"
RAISING_LOCK = 0x6377_616C
"""The key the transactions that may raise an alert queue on."""


def alert_kind(order_id: int | None) -> str:
    """A match of a stay-at-home order's person outside their place is an `order_violation`;
    any other match, a `match`. Each kind has episodes of its own."""
    return MATCH if order_id is None else ORDER_VIOLATION


def severity_of(watchlist: Watchlist | None) -> str:
    """The watchlist's severity now; medium when the watchlist has gone meanwhile."""
    return Severity.MEDIUM.value if watchlist is None else watchlist.severity


class AlertRaising:
    """`cooldown_s`: a match of a person on a camera this close to their last alert there
    raises none (0: every match alerts; the runtime passes `alerts.cooldown_s`)."""

    def __init__(self, *, cooldown_s: float = 0.0, on_alert: AlertHook | None = None) -> None:
        self._cooldown = timedelta(seconds=cooldown_s)
        self._on_alert = on_alert

    def cooldown_of(self, session: Session, sighting: Sighting, order_id: int | None) -> int | None:
        """The earlier alert whose episode the (not yet stored) sighting belongs to; its
        decision then says that no alert was raised, and why. From here to the commit the
        transaction holds the raising queue."""
        serialise(session, RAISING_LOCK)
        if sighting.person_id is None:  # the person was removed meanwhile: nothing to merge with
            return None
        earlier = memory.cooldown_alert(
            session,
            person_id=sighting.person_id,
            camera_id=sighting.camera_id,
            kind=alert_kind(order_id),
            started_at=sighting.started_at,
            cooldown=self._cooldown,
        )
        if earlier is not None:
            sighting.decision = f"{sighting.decision}; alert suppressed: cooldown of alert {earlier}"
        return earlier

    def raise_for(
        self, session: Session, sighting: Sighting, matched: Candidate, order_id: int | None
    ) -> int:
        """The alert of a stored sighting that raises one; its hook told in the transaction."""
        serialise(session, RAISING_LOCK)  # held already when cooldown_of ran: a no-op then
        watchlist = None if sighting.watchlist_id is None else session.get(Watchlist, sighting.watchlist_id)
        alert = Alert(
            camera_id=sighting.camera_id,
            person_name=matched.person_name,
            watchlist_name=matched.watchlist_name,
            distance=float(matched.distance),
            status=AlertStatus.NEW.value,
            created_at=sighting.created_at,
            kind=alert_kind(order_id),
            order_id=order_id,
            severity=severity_of(watchlist),
            sighting_id=sighting.id,
            person_id=sighting.person_id,
            watchlist_id=sighting.watchlist_id,
        )
        sighting_queries.insert_alert(session, alert)
        if self._on_alert is not None:
            self._on_alert(session, alert)
        return alert.id
