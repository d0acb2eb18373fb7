"""The store of sightings: the crop written before the row, one transaction per batch of
sightings with a savepoint per sighting (sightings.batch), the alert each raises in that same
transaction (alerts.raising), plain records out, never ORM rows."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from citywatch.alerts.raising import AlertRaising
from citywatch.alerts.store import alert_info
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import CitywatchError, InvalidInput, NotFound
from citywatch.domain.records import (
    AlertInfo,
    SearchCandidate,
    SightingInfo,
    SightingOrigin,
    SightingRecord,
    SightingSaved,
)
from citywatch.domain.values import aware, list_limit
from citywatch.sightings.batch import Outcome, SightingWriter
from citywatch.store import sighting_queries, vectors
from citywatch.store.blobs import BlobStore
from citywatch.store.db import Database
from citywatch.store.sighting_tables import Sighting
from citywatch.store.staging import CROPS_FOLDER, ORPHAN_GRACE_S, Staging


class SightingStore:
    def __init__(
        self, db: Database, blobs: BlobStore, *, raising: AlertRaising | None = None, clock: Clock = utc_now
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._clock = clock
        self._staging = Staging(db, blobs)
        self._writer = SightingWriter(
            db,
            blobs,
            raising=AlertRaising() if raising is None else raising,
            clock=clock,
            staging=self._staging,
        )

    def add_sighting(self, record: SightingRecord, origin: SightingOrigin | None = None) -> SightingSaved:
        """Write the crop, then the sighting (and its alert when it matched: alerts.raising)
        in one transaction: the batch of one (`add_sightings`), its refusal raised.

        A sighting derived under an authorisation that has been closed, refused or revoked
        meanwhile is refused (PermissionDenied) in that same transaction: the camera's view
        of the policy may be seconds old, the database's is not.

        With an `origin` (a sighting from a worker, over the bus): one already stored under
        its key is not stored again (what was saved is returned), and one made under a lease
        token lower than the camera's latest is refused (`Fenced`) in the same transaction."""
        (outcome,) = self._writer.add([(record, origin)])
        if isinstance(outcome, CitywatchError):
            raise outcome
        return outcome

    def add_sightings(self, items: Sequence[tuple[SightingRecord, SightingOrigin | None]]) -> list[Outcome]:
        """Store a batch of sightings under add_sighting's rules, each sighting's outcome in
        order: saved (`duplicate` when stored already under its key), or the error that
        refused it (`Fenced`, `PermissionDenied`, `InvalidInput`, a `Conflict` not resolved
        as a duplicate). The good ones commit in one transaction, each refused one rolled back
        alone (a savepoint) with its crop deleted (sightings.batch). Raises, storing nothing,
        when the database or the blob store is away (`Unavailable`)."""
        return self._writer.add(items)

    def raise_fence(self, camera_id: str, token: int) -> bool:
        """A worker took `camera_id` under lease token `token`: from now on a sighting made
        under an earlier token is refused. False when a later token is there already (the
        lease was lost again meanwhile)."""
        with self._db.session() as session:
            return sighting_queries.pass_fence(session, camera_id, token, aware(self._clock(), "clock"))

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
