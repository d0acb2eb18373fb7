"""What earlier alerts and dismissals tell a new match: the alert whose cooldown it falls in,
and the faces remembered as not a person. Queries on one Session; nothing here commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.domain.matching import NonMatch
from citywatch.store import vectors
from citywatch.store.sighting_tables import Alert, Sighting
from citywatch.store.watchlist_tables import NonMatchRow


def cooldown_alert(
    session: Session, *, person_id: int, camera_id: str, kind: str, started_at: datetime, cooldown: timedelta
) -> int | None:
    """The alert of the episode a new sighting of `person_id` on `camera_id` belongs to, or
    None when it starts a new one. An episode begins with an alert of `kind` and goes on
    while the person's sightings on that camera follow each other (alerted or not) less than
    `cooldown` apart: someone who lingers raises one alert, not one every `cooldown`. A
    sighting stored late (after a retry), up to `cooldown` before the alert's, belongs to it.

    An alert dismissed as a false match (its face remembered as a non-match) starts no
    episode: it was somebody else, and the person themselves may still come by."""
    if cooldown <= timedelta(0):
        return None
    dismissed_as_false = select(NonMatchRow.alert_id).where(NonMatchRow.alert_id.is_not(None))
    latest = session.execute(
        select(Alert.id, Sighting.started_at)
        .join(Sighting, Sighting.id == Alert.sighting_id)
        .where(
            Alert.person_id == person_id,
            Alert.camera_id == camera_id,
            Alert.kind == kind,
            Sighting.started_at < started_at + cooldown,
            Alert.id.not_in(dismissed_as_false),
        )
        .order_by(Sighting.started_at.desc(), Alert.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    alert_id, episode_start = latest
    if episode_start >= started_at:
        return int(alert_id)  # stored late, less than `cooldown` before its episode's alert
    seen = session.scalars(
        select(Sighting.started_at)
        .where(
            Sighting.person_id == person_id,
            Sighting.camera_id == camera_id,
            Sighting.started_at >= episode_start,
            Sighting.started_at <= started_at,
        )
        .order_by(Sighting.started_at)
    ).all()
    times = [episode_start, *seen, started_at]
    if all(later - earlier < cooldown for earlier, later in pairwise(times)):
        return int(alert_id)
    return None


def non_matches(session: Session, *, model: str) -> list[NonMatch]:
    """Every remembered non-match of `model` (the purge removes expired ones)."""
    rows = session.scalars(select(NonMatchRow).where(NonMatchRow.model == model).order_by(NonMatchRow.id))
    return [NonMatch(row.person_id, vectors.decode(row.vector, row.dim)) for row in rows]


def insert_non_match(
    session: Session,
    *,
    person_id: int,
    alert_id: int,
    sighting: Sighting,
    template: bytes,
    recorded_by: str,
    now: datetime,
) -> NonMatchRow:
    row = NonMatchRow(
        person_id=person_id,
        alert_id=alert_id,
        camera_id=sighting.camera_id,
        model=sighting.model,
        dim=len(template) // 4,
        vector=template,
        recorded_by=recorded_by,
        created_at=now,
        seen_at=sighting.started_at,
    )
    session.add(row)
    session.flush()
    return row
