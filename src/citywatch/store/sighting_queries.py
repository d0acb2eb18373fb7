"""Queries and inserts of sightings, alerts and alert confirmations; the caller's session commits."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from citywatch.store.sighting_tables import Alert, AlertConfirmationRow, CameraFence, Sighting

# --- sightings and alerts -----------------------------------------------------------------


def insert_sighting(session: Session, row: Sighting) -> Sighting:
    session.add(row)
    session.flush()
    return row


def insert_sightings(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Sightings (their column values, no id) in one statement; their ids, in order."""
    statement = insert(Sighting).returning(Sighting.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, list(rows)).all())


def insert_alert(session: Session, row: Alert) -> Alert:
    session.add(row)
    session.flush()
    return row


def search_rows(
    session: Session,
    *,
    model: str,
    camera_ids: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> Sequence[Sighting]:
    """Sightings with a template of `model` whose time span overlaps [since, until]."""
    query = select(Sighting).where(Sighting.model == model, Sighting.template.is_not(None))
    if camera_ids is not None:
        query = query.where(Sighting.camera_id.in_(list(camera_ids)))
    if since is not None:
        query = query.where(Sighting.ended_at >= since)
    if until is not None:
        query = query.where(Sighting.started_at <= until)
    return session.scalars(query.order_by(Sighting.started_at, Sighting.id)).all()


def sightings_in(
    session: Session, *, camera_ids: Sequence[str], since: datetime, until: datetime
) -> Sequence[Sighting]:
    """Every sighting of `camera_ids` overlapping [since, until], oldest first (exports)."""
    query = select(Sighting).where(
        Sighting.camera_id.in_(list(camera_ids)), Sighting.ended_at >= since, Sighting.started_at <= until
    )
    return session.scalars(query.order_by(Sighting.started_at, Sighting.id)).all()


def alerts_of(session: Session, sighting_ids: Sequence[int]) -> Sequence[Alert]:
    return session.scalars(
        select(Alert).where(Alert.sighting_id.in_(list(sighting_ids))).order_by(Alert.id)
    ).all()


def recent_sightings(
    session: Session, *, limit: int, camera_id: str | None, camera_ids: Collection[str] | None = None
) -> Sequence[Sighting]:
    query = select(Sighting)
    if camera_id is not None:
        query = query.where(Sighting.camera_id == camera_id)
    if camera_ids is not None:
        query = query.where(Sighting.camera_id.in_(sorted(camera_ids)))
    return session.scalars(query.order_by(Sighting.started_at.desc(), Sighting.id.desc()).limit(limit)).all()


def alerts_after(
    session: Session, *, after_id: int, limit: int, camera_ids: Collection[str] | None = None
) -> Sequence[Alert]:
    query = select(Alert).where(Alert.id > after_id)
    if camera_ids is not None:
        query = query.where(Alert.camera_id.in_(sorted(camera_ids)))
    return session.scalars(query.order_by(Alert.id).limit(limit)).all()


def recent_alerts(
    session: Session, *, limit: int, status: str | None, camera_ids: Collection[str] | None = None
) -> Sequence[Alert]:
    query = select(Alert)
    if camera_ids is not None:
        query = query.where(Alert.camera_id.in_(sorted(camera_ids)))
    if status is not None:
        query = query.where(Alert.status == status)
    return session.scalars(query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)).all()


def sightings_page(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    camera_id: str | None = None,
    camera_ids: Collection[str] | None = None,
) -> Sequence[Sighting]:
    """Newest stored first, by id: a stable cursor (`before_id`) however times interleave."""
    query = select(Sighting)
    if before_id is not None:
        query = query.where(Sighting.id < before_id)
    if camera_id is not None:
        query = query.where(Sighting.camera_id == camera_id)
    if camera_ids is not None:
        query = query.where(Sighting.camera_id.in_(sorted(camera_ids)))
    return session.scalars(query.order_by(Sighting.id.desc()).limit(limit)).all()


def sighting_margins(session: Session, sighting_ids: Collection[int]) -> dict[int, float | None]:
    query = select(Sighting.id, Sighting.margin).where(Sighting.id.in_(sorted(set(sighting_ids))))
    return {sighting_id: margin for sighting_id, margin in session.execute(query)}


def alerts_page(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    status: str | None = None,
    camera_id: str | None = None,
    camera_ids: Collection[str] | None = None,
    order_id: int | None = None,
) -> Sequence[Alert]:
    """Newest first, by id, from `before_id` (exclusive)."""
    query = select(Alert)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    if order_id is not None:
        query = query.where(Alert.order_id == order_id)
    if status is not None:
        query = query.where(Alert.status == status)
    if camera_id is not None:
        query = query.where(Alert.camera_id == camera_id)
    if camera_ids is not None:
        query = query.where(Alert.camera_id.in_(sorted(camera_ids)))
    return session.scalars(query.order_by(Alert.id.desc()).limit(limit)).all()


def count_sightings(session: Session) -> int:
    return session.scalar(select(func.count(Sighting.id))) or 0


def all_crop_paths(session: Session) -> set[str]:
    return set(session.scalars(select(Sighting.crop_path)))


# --- alert confirmations -----------------------------------------------------------------


def alert_by_id(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def confirmations_of(session: Session, alert_id: int) -> Sequence[AlertConfirmationRow]:
    return session.scalars(
        select(AlertConfirmationRow)
        .where(AlertConfirmationRow.alert_id == alert_id)
        .order_by(AlertConfirmationRow.id)
    ).all()


def insert_confirmation(
    session: Session, *, alert_id: int, actor: str, role: str, now: datetime
) -> AlertConfirmationRow:
    row = AlertConfirmationRow(alert_id=alert_id, actor=actor, role=role, at=now)
    session.add(row)
    session.flush()
    return row


def pass_fence(session: Session, camera_id: str, token: int, now: datetime) -> bool:
    """Whether a write under lease token `token` may go in for `camera_id` (no later holder
    has written since); the camera's fence is raised to `token`. Rows locked until commit."""
    fence = session.get(CameraFence, camera_id, with_for_update=True)
    if fence is None:
        session.add(CameraFence(camera_id=camera_id, token=token, updated_at=now))
        session.flush()
        return True
    if token < fence.token:
        return False
    if token > fence.token:
        fence.token, fence.updated_at = token, now
    return True


def sighting_by_source(session: Session, key: str) -> Sighting | None:
    return session.scalars(select(Sighting).where(Sighting.source_key == key)).first()


def alert_of_sighting(session: Session, sighting_id: int) -> int | None:
    return session.scalars(select(Alert.id).where(Alert.sighting_id == sighting_id).limit(1)).first()
