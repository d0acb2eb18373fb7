"""Alerts as stored, read: the latest, a page, those after an id (the live feed's replay),
one by id. Reviews (acknowledge, confirm, dismiss) are alerts.review; raising, alerts.raising."""

from __future__ import annotations

from collections.abc import Collection

from citywatch.domain.errors import NotFound
from citywatch.domain.records import AlertInfo
from citywatch.domain.values import alert_status, list_limit
from citywatch.domain.watchlists import AlertStatus, Severity
from citywatch.store import sighting_queries
from citywatch.store.db import Database
from citywatch.store.sighting_tables import Alert


class AlertStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list_alerts(
        self, limit: int = 50, status: str | None = None, *, camera_ids: Collection[str] | None = None
    ) -> list[AlertInfo]:
        """The latest alerts (only of `camera_ids` when given)."""
        list_limit(limit)
        wanted = None if status is None else alert_status(status).value
        with self._db.session(write=False) as session:
            rows = sighting_queries.recent_alerts(session, limit=limit, status=wanted, camera_ids=camera_ids)
            return [alert_info(row) for row in rows]

    def alerts_after(
        self, after_id: int, limit: int = 500, *, camera_ids: Collection[str] | None = None
    ) -> list[AlertInfo]:
        """Alerts with an id above `after_id`, oldest first (only of `camera_ids` when given):
        what a live-feed client missed since the last alert it saw."""
        list_limit(limit)
        with self._db.session(write=False) as session:
            rows = sighting_queries.alerts_after(
                session, after_id=after_id, limit=limit, camera_ids=camera_ids
            )
            return [alert_info(row) for row in rows]

    def alerts_page(
        self,
        limit: int = 50,
        *,
        before_id: int | None = None,
        status: str | None = None,
        camera_id: str | None = None,
        camera_ids: Collection[str] | None = None,
        order_id: int | None = None,
    ) -> list[AlertInfo]:
        """A page of alerts, newest first (ids below `before_id`; only of `camera_ids` when
        given; only those about stay-at-home order `order_id` when given)."""
        list_limit(limit)
        wanted = None if status is None else alert_status(status).value
        with self._db.session(write=False) as session:
            rows = sighting_queries.alerts_page(
                session,
                limit=limit,
                before_id=before_id,
                status=wanted,
                camera_id=camera_id,
                camera_ids=camera_ids,
                order_id=order_id,
            )
            return [alert_info(row) for row in rows]

    def get_alert(self, alert_id: int) -> AlertInfo:
        with self._db.session(write=False) as session:
            row = sighting_queries.alert_by_id(session, alert_id)
            if row is None:
                raise NotFound(f"no alert with id {alert_id}")
            return alert_info(row)


def alert_info(row: Alert) -> AlertInfo:
    return AlertInfo(
        id=row.id,
        sighting_id=row.sighting_id,
        camera_id=row.camera_id,
        person_id=row.person_id,
        person_name=row.person_name,
        watchlist_id=row.watchlist_id,
        watchlist_name=row.watchlist_name,
        distance=row.distance,
        status=AlertStatus(row.status),
        created_at=row.created_at,
        severity=Severity(row.severity),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        dismiss_reason=row.dismiss_reason,
        kind=row.kind,
        order_id=row.order_id,
    )
