"""The store of sightings: the crop written before the row, one transaction per sighting, the
alert it raises in that same transaction (alerts.raising), plain records out, never ORM rows."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from citywatch.alerts.raising import AlertRaising
from citywatch.alerts.store import alert_info
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import Conflict, Fenced, InvalidInput, NotFound, PermissionDenied
from citywatch.domain.matching import Candidate
from citywatch.domain.records import (
    AlertInfo,
    SearchCandidate,
    SightingInfo,
    SightingOrigin,
    SightingRecord,
    SightingSaved,
)
from citywatch.domain.values import aware, list_limit, required_text
from citywatch.store import sighting_queries, vectors, watchlist_queries
from citywatch.store.blobs import BlobRef, BlobStore
from citywatch.store.db import Database
from citywatch.store.governance_tables import AuthorisationRow
from citywatch.store.sighting_tables import Sighting
from citywatch.store.staging import CROPS_FOLDER, ORPHAN_GRACE_S, Staging
from citywatch.store.watchlist_tables import Watchlist


class SightingStore:
    def __init__(
        self, db: Database, blobs: BlobStore, *, raising: AlertRaising | None = None, clock: Clock = utc_now
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._raising = AlertRaising() if raising is None else raising
        self._clock = clock
        self._staging = Staging(db, blobs)

    def add_sighting(self, record: SightingRecord, origin: SightingOrigin | None = None) -> SightingSaved:
        """Write the crop, then the sighting (and its alert when it matched: alerts.raising)
        in one transaction.

        A sighting derived under an authorisation that has been closed, refused or revoked
        meanwhile is refused (PermissionDenied) in that same transaction: the camera's view
        of the policy may be seconds old, the database's is not.

        With an `origin` (a sighting from a worker, over the bus): one already stored under
        its key is not stored again (what was saved is returned), and one made under a lease
        token lower than the camera's latest is refused (`Fenced`) in the same transaction."""
        row, matched = self._sighting_row(record)
        if origin is not None:
            row.source_key = required_text(origin.key, "source key", max_len=200)
            stored = self._stored(origin.key)
            if stored is not None:
                return stored
        blob = self._blobs.put(record.crop_jpeg, folder=f"{CROPS_FOLDER}/{row.day}", suffix=".jpg")
        row.crop_path = blob.path
        row.crop_sha256 = blob.sha256
        try:
            return self._insert(row, matched, blob, record.order_id, origin)
        except Conflict:
            stored = None if origin is None else self._stored(origin.key)
            if stored is None:  # not a second delivery stored meanwhile by another consumer
                raise
            return stored

    def raise_fence(self, camera_id: str, token: int) -> bool:
        """A worker took `camera_id` under lease token `token`: from now on a sighting made
        under an earlier token is refused. False when a later token is there already (the
        lease was lost again meanwhile)."""
        with self._db.session() as session:
            return sighting_queries.pass_fence(session, camera_id, token, aware(self._clock(), "clock"))

    def _stored(self, key: str) -> SightingSaved | None:
        """What was saved of the sighting with source key `key`, if it is stored."""
        with self._db.session(write=False) as session:
            row = sighting_queries.sighting_by_source(session, key)
            if row is None:
                return None
            alert_id = sighting_queries.alert_of_sighting(session, row.id)
            return SightingSaved(row.id, alert_id, row.crop_path, duplicate=True)

    def _insert(
        self,
        row: Sighting,
        matched: Candidate | None,
        blob: BlobRef,
        order_id: int | None,
        origin: SightingOrigin | None,
    ) -> SightingSaved:
        with self._staging.staged(blob), self._db.session() as session:
            now = aware(self._clock(), "clock")
            if origin is not None and not sighting_queries.pass_fence(
                session, row.camera_id, origin.token, now
            ):
                raise Fenced(
                    f"camera {row.camera_id}: sighting made under a lease token that a "
                    "later holder of the camera has superseded"
                )
            # The person or watchlist may have been removed since the gallery was loaded:
            # keep the sighting with its name snapshots rather than lose it.
            if row.person_id is not None and watchlist_queries.person_by_id(session, row.person_id) is None:
                row.person_id = None
            if row.watchlist_id is not None and session.get(Watchlist, row.watchlist_id) is None:
                row.watchlist_id = None
            if row.authorisation_id is not None:
                _require_open_authorisation(session, row.authorisation_id)
            cooldown_of = None
            if matched is not None:
                cooldown_of = self._raising.cooldown_of(session, row, order_id)
            sighting_queries.insert_sighting(session, row)
            alert_id = None
            if matched is not None and cooldown_of is None:
                alert_id = self._raising.raise_for(session, row, matched, order_id)
            return SightingSaved(
                sighting_id=row.id, alert_id=alert_id, crop_path=blob.path, cooldown_of=cooldown_of
            )

    def sightings_for_search(
        self,
        model: str,
        camera_ids: list[str] | None,
        since: datetime | None,
        until: datetime | None,
    ) -> list[SearchCandidate]:
        """Sightings with a template of `model` on `camera_ids` (None: all) overlapping [since, until]."""
        if camera_ids is not None and not camera_ids:
            return []
        since = None if since is None else aware(since, "since")
        until = None if until is None else aware(until, "until")
        if since is not None and until is not None and since > until:
            raise InvalidInput(
                f"search window starts ({since.isoformat()}) after it ends ({until.isoformat()})"
            )
        with self._db.session(write=False) as session:
            rows = sighting_queries.search_rows(
                session, model=model, camera_ids=camera_ids, since=since, until=until
            )
            return [
                SearchCandidate(
                    id=row.id,
                    camera_id=row.camera_id,
                    started_at=row.started_at,
                    ended_at=row.ended_at,
                    crop_path=self._blobs.locator(row.crop_path),
                    quality=row.quality,
                    vector=vectors.decode(row.template),
                )
                for row in rows
                if row.template is not None
            ]

    def sightings_in(
        self, camera_ids: Sequence[str], since: datetime, until: datetime
    ) -> tuple[list[SightingInfo], list[AlertInfo]]:
        """The sightings of `camera_ids` overlapping the window, and their alerts (exports)."""
        since, until = aware(since, "since"), aware(until, "until")
        with self._db.session(write=False) as session:
            rows = sighting_queries.sightings_in(session, camera_ids=camera_ids, since=since, until=until)
            alerts = sighting_queries.alerts_of(session, [r.id for r in rows])
            return [sighting_info(r) for r in rows], [alert_info(a) for a in alerts]

    def list_sightings(
        self, limit: int = 50, camera_id: str | None = None, *, camera_ids: Collection[str] | None = None
    ) -> list[SightingInfo]:
        """The latest sightings (of `camera_id`, and only of `camera_ids` when given)."""
        list_limit(limit)
        with self._db.session(write=False) as session:
            rows = sighting_queries.recent_sightings(
                session, limit=limit, camera_id=camera_id, camera_ids=camera_ids
            )
            return [sighting_info(row) for row in rows]

    def sightings_page(
        self,
        limit: int = 50,
        *,
        before_id: int | None = None,
        camera_id: str | None = None,
        camera_ids: Collection[str] | None = None,
    ) -> list[SightingInfo]:
        """A page of sightings, newest stored first (ids below `before_id`; only of
        `camera_ids` when given): the API's cursor pagination."""
        list_limit(limit)
        with self._db.session(write=False) as session:
            rows = sighting_queries.sightings_page(
                session, limit=limit, before_id=before_id, camera_id=camera_id, camera_ids=camera_ids
            )
            return [sighting_info(row) for row in rows]

    def get_sighting(self, sighting_id: int) -> SightingInfo:
        with self._db.session(write=False) as session:
            row = session.get(Sighting, sighting_id)
            if row is None:
                raise NotFound(f"no sighting with id {sighting_id}")
            return sighting_info(row)

    def sighting_margins(self, sighting_ids: Collection[int]) -> dict[int, float | None]:
        """Each still-stored sighting's margin to the runner-up (None: no runner-up), in one
        query; a purged sighting is absent."""
        if not sighting_ids:
            return {}
        with self._db.session(write=False) as session:
            return sighting_queries.sighting_margins(session, sighting_ids)

    def count_sightings(self) -> int:
        with self._db.session(write=False) as session:
            return sighting_queries.count_sightings(session)

    def clean_orphan_crops(self, *, older_than_s: float = ORPHAN_GRACE_S) -> int:
        """Delete crop files no sighting references (left by a crash before commit); returns the count."""
        return self._staging.clean_orphans(CROPS_FOLDER, sighting_queries.all_crop_paths, older_than_s)

    def _sighting_row(self, record: SightingRecord) -> tuple[Sighting, Candidate | None]:
        """The row of a sighting, checked, and the candidate it matched (None: no match)."""
        camera_id = required_text(record.camera_id, "camera id", max_len=64)
        model = required_text(record.model, "model name", max_len=100)
        started = aware(record.started_at, "started_at")
        ended = aware(record.ended_at, "ended_at")
        if ended < started:
            raise InvalidInput(
                f"sighting ends ({ended.isoformat()}) before it starts ({started.isoformat()})"
            )
        if record.detections < 0:
            raise InvalidInput(f"detections must not be negative, got {record.detections}")
        if not math.isfinite(record.quality):
            raise InvalidInput(f"quality must be a finite number, got {record.quality}")
        if not record.crop_jpeg:
            raise InvalidInput("the sighting's crop is empty")
        template = None if record.template is None else vectors.encode(record.template)
        match = record.match
        best = match.best
        if match.is_match and best is None:
            raise InvalidInput("a match result without a best candidate")
        matched = best if match.is_match else None
        row = Sighting(
            camera_id=camera_id,
            track_id=int(record.track_id),
            day=started.astimezone(UTC).date().isoformat(),
            started_at=started,
            ended_at=ended,
            detections=int(record.detections),
            quality=float(record.quality),
            crop_path="",
            crop_sha256="",
            model=model,
            template=template,
            person_id=None if matched is None else matched.person_id,
            person_name=None if matched is None else matched.person_name,
            watchlist_id=None if matched is None else matched.watchlist_id,
            distance=None if best is None else float(best.distance),
            margin=None if match.margin is None else float(match.margin),
            decision=match.decision.value,
            created_at=aware(self._clock(), "clock"),
            authorisation_id=record.authorisation_id,
        )
        return row, matched


def _require_open_authorisation(session: Session, authorisation_id: int) -> None:
    auth = session.get(AuthorisationRow, authorisation_id)
    if auth is None or auth.closed_at is not None or auth.status in {"refused", "revoked"}:
        reference = "?" if auth is None else auth.reference
        raise PermissionDenied(
            f"authorisation {reference} has ended: the sighting derived under it is not stored"
        )


def sighting_info(row: Sighting) -> SightingInfo:
    return SightingInfo(
        id=row.id,
        camera_id=row.camera_id,
        track_id=row.track_id,
        day=row.day,
        started_at=row.started_at,
        ended_at=row.ended_at,
        detections=row.detections,
        quality=row.quality,
        crop_path=row.crop_path,
        crop_sha256=row.crop_sha256,
        model=row.model,
        has_template=row.template is not None,
        person_id=row.person_id,
        person_name=row.person_name,
        watchlist_id=row.watchlist_id,
        distance=row.distance,
        margin=row.margin,
        decision=row.decision,
        created_at=row.created_at,
    )
