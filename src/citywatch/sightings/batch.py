"""Writing sightings in batches (SightingStore.add_sightings; add_sighting is the batch of one):
one query for the source keys stored already, the crops put (side by side), then ONE
transaction in which each sighting runs in a savepoint of its own, so that one refused (its
camera fenced, its authorisation ended, its source key stored meanwhile by another consumer)
rolls back only itself and the others commit together. The crop of a refused sighting is
deleted after the commit; every crop of a batch whose transaction fails, with it."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from citywatch.alerts.raising import AlertRaising
from citywatch.domain.clock import Clock
from citywatch.domain.errors import (
    CitywatchError,
    Conflict,
    Fenced,
    InvalidInput,
    PermissionDenied,
    Unavailable,
)
from citywatch.domain.matching import Candidate
from citywatch.domain.records import SightingOrigin, SightingRecord, SightingSaved
from citywatch.domain.values import aware, required_text
from citywatch.store import sighting_queries, vectors, watchlist_queries
from citywatch.store.blobs import BlobRef, BlobStore
from citywatch.store.db import Database
from citywatch.store.governance_tables import AuthorisationRow
from citywatch.store.sighting_tables import Alert, CameraFence, Sighting
from citywatch.store.staging import CROPS_FOLDER, Staging
from citywatch.store.watchlist_tables import Watchlist

Outcome = SightingSaved | CitywatchError
"""What became of one sighting of a batch: saved (or found saved: `duplicate`), or why not."""
PUT_WORKERS = 8
SAVEPOINTS = 60
"""The most savepoints one transaction holds when a batch is sorted out one by one."""
"""Crops put side by side: an object store's round trips, a disk's fsyncs overlap."""


@dataclass(slots=True)
class _Item:
    """One sighting of a batch on its way in: its row (checked), what it matched, its crop."""

    row: Sighting
    matched: Candidate | None
    order_id: int | None
    origin: SightingOrigin | None
    crop: bytes
    blob: BlobRef | None = None


class SightingWriter:
    """The write path of the sighting store (see the module's docstring)."""

    def __init__(
        self, db: Database, blobs: BlobStore, *, raising: AlertRaising, clock: Clock, staging: Staging
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._raising = raising
        self._clock = clock
        self._staging = staging
        self._pool = ThreadPoolExecutor(PUT_WORKERS, thread_name_prefix="crop-put")
        """Kept for the writer's life: its threads idle between batches."""

    def add(self, items: Sequence[tuple[SightingRecord, SightingOrigin | None]]) -> list[Outcome]:
        """Each item's outcome, in order; raises (storing nothing) only when the database or
        the blob store is away for the whole batch. A source key twice in the batch is stored
        once: the later copy shares the earlier one's outcome (`duplicate` when saved)."""
        outcomes: dict[int, Outcome] = {}
        pending: dict[int, _Item] = {}
        first_with_key: dict[str, int] = {}
        copies: dict[int, int] = {}  # a later copy's index -> the first's
        for i, (record, origin) in enumerate(items):
            try:
                item = self._item(record, origin)
            except InvalidInput as exc:
                outcomes[i] = exc
                continue
            key = item.row.source_key
            if key is not None and key in first_with_key:
                copies[i] = first_with_key[key]
                continue
            if key is not None:
                first_with_key[key] = i
            pending[i] = item
        stored = self._stored(first_with_key)
        for i in list(pending):
            key = pending[i].row.source_key
            if key is not None and key in stored:  # a second delivery: what was saved
                outcomes[i] = stored[key]
                del pending[i]
        self._put_crops(list(pending.values()))
        outcomes |= self._commit(pending)
        for i, first in copies.items():
            outcome = outcomes[first]
            outcomes[i] = replace(outcome, duplicate=True) if isinstance(outcome, SightingSaved) else outcome
        return [outcomes[i] for i in range(len(items))]

    def _item(self, record: SightingRecord, origin: SightingOrigin | None) -> _Item:
        row, matched = sighting_row(record, aware(self._clock(), "clock"))
        if origin is not None:
            row.source_key = required_text(origin.key, "source key", max_len=200)
        return _Item(row, matched, record.order_id, origin, record.crop_jpeg)

    def _stored(self, keys: Collection[str]) -> dict[str, SightingSaved]:
        """What was saved of the sightings stored under `keys` (one query, and one for their alerts)."""
        if not keys:
            return {}
        with self._db.session(write=False) as session:
            rows = session.execute(
                select(Sighting.id, Sighting.source_key, Sighting.crop_path).where(
                    Sighting.source_key.in_(sorted(keys))
                )
            ).all()
            if not rows:
                return {}
            alerts: dict[int, int] = {
                sighting_id: alert_id
                for sighting_id, alert_id in session.execute(
                    select(Alert.sighting_id, func.min(Alert.id))
                    .where(Alert.sighting_id.in_([r.id for r in rows]))
                    .group_by(Alert.sighting_id)
                )
            }
        return {
            r.source_key: SightingSaved(r.id, alerts.get(r.id), r.crop_path, duplicate=True)
            for r in rows
            if r.source_key is not None
        }

    def _put_crops(self, items: list[_Item]) -> None:
        """Each item's crop into the blob store; when one cannot be put, none stays and the
        batch fails (the blob store is away)."""

        def put(item: _Item) -> BlobRef:
            return self._blobs.put(item.crop, folder=f"{CROPS_FOLDER}/{item.row.day}", suffix=".jpg")

        if len(items) <= 1:
            for item in items:
                item.blob = put(item)
            return
        futures = [self._pool.submit(put, item) for item in items]
        wait(futures)
        failures: list[BaseException] = []
        for item, future in zip(items, futures, strict=True):
            error = future.exception()
            if error is None:
                item.blob = future.result()
            else:
                failures.append(error)
        if failures:
            for item in items:
                if item.blob is not None:
                    self._staging.unlink_after_commit(item.blob.path)
            raise failures[0]

    def _commit(self, items: dict[int, _Item]) -> dict[int, Outcome]:
        """One transaction for `items`: all together when none is refused (the common case:
        each check once per camera and authorisation, the rows in one insert); otherwise again,
        each in a savepoint. Their outcomes by index."""
        if not items:
            return {}
        with self._staged(items.values()):
            together = self._commit_together(items)
            if together is not None:
                outcomes = together
            else:  # PostgreSQL caches 64 subtransactions a transaction: no more savepoints than that
                order = list(items)
                outcomes = {}
                for start in range(0, len(order), SAVEPOINTS):
                    outcomes |= self._commit_each({i: items[i] for i in order[start : start + SAVEPOINTS]})
        refused = {i: items[i] for i, outcome in outcomes.items() if isinstance(outcome, CitywatchError)}
        for item in refused.values():  # rolled back with its savepoint: no row names its crop
            if item.blob is not None:
                self._staging.unlink_after_commit(item.blob.path)
        # A conflict may be the same sighting stored meanwhile by another consumer.
        keys = {i: item.row.source_key for i, item in refused.items() if isinstance(outcomes[i], Conflict)}
        stored = self._stored({key for key in keys.values() if key is not None})
        for i, key in keys.items():
            if key in stored:
                outcomes[i] = stored[key]
        return outcomes

    def _commit_together(self, items: dict[int, _Item]) -> dict[int, Outcome] | None:
        """The batch in one transaction with no savepoint; None (and nothing stored) when any
        sighting is refused or clashes, for `_commit_each` to sort out which."""
        try:
            with self._db.session() as session:
                now = aware(self._clock(), "clock")
                _lock_fences(session, items.values())
                fences = _require_fences(session, items.values(), now)
                authorisations = {i.row.authorisation_id for i in items.values()}
                for authorisation_id in sorted(a for a in authorisations if a is not None):
                    _require_open_authorisation(session, authorisation_id)
                plain = {i: item for i, item in items.items() if item.matched is None}
                outcomes: dict[int, Outcome] = dict(
                    zip(plain, _insert_rows(session, plain.values()), strict=True)
                )
                for i, item in items.items():
                    if i not in plain:  # a match: the alert rules, as one at a time
                        outcomes[i] = self._insert(session, item, now, fences)
                return outcomes
        except Unavailable:
            raise
        except (CitywatchError, IntegrityError, DataError, OverflowError):
            return None

    def _commit_each(self, items: dict[int, _Item]) -> dict[int, Outcome]:
        """One transaction for `items`, each in a savepoint: their outcomes by index."""
        with self._db.session() as session:
            now = aware(self._clock(), "clock")
            _lock_fences(session, items.values())
            fences: dict[str, int] = {}
            return {i: self._savepoint(session, item, now, fences) for i, item in items.items()}

    @contextmanager
    def _staged(self, items: Collection[_Item]) -> Iterator[None]:
        """Every crop of the batch shielded from the orphan cleaning while it commits, and
        deleted when the transaction fails."""
        with ExitStack() as stack:
            for item in items:
                if item.blob is not None:
                    stack.enter_context(self._staging.staged(item.blob))
            yield

    def _savepoint(self, session: Session, item: _Item, now: datetime, fences: dict[str, int]) -> Outcome:
        """One sighting in a savepoint of the batch's transaction; refused, it rolls back alone
        (as does one the database cannot hold). A database that fails otherwise fails the
        batch. `fences`: the token each camera's fence stands at since a sighting of this batch
        passed it (the row locked until commit)."""
        try:
            with session.begin_nested():
                saved = self._insert(session, item, now, fences)
        except CitywatchError as exc:
            return exc
        except IntegrityError as exc:
            return Conflict(f"{self._db.label}: the sighting clashes with stored data ({exc.orig})")
        except (DataError, OverflowError) as exc:  # a value the database cannot hold: never storable
            reason = exc.orig if isinstance(exc, DataError) else exc
            return InvalidInput(f"{self._db.label}: the sighting holds a value out of range ({reason})")
        if item.origin is not None:
            fences[item.row.camera_id] = item.origin.token
        return saved

    def _insert(self, session: Session, item: _Item, now: datetime, fences: dict[str, int]) -> SightingSaved:
        row, matched = item.row, item.matched
        _require_fence(session, item, now, fences)
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
            cooldown_of = self._raising.cooldown_of(session, row, item.order_id)
        _name_crop(item)
        sighting_queries.insert_sighting(session, row)
        alert_id = None
        if matched is not None and cooldown_of is None:
            alert_id = self._raising.raise_for(session, row, matched, item.order_id)
        return SightingSaved(
            sighting_id=row.id, alert_id=alert_id, crop_path=row.crop_path, cooldown_of=cooldown_of
        )


def _require_fence(session: Session, item: _Item, now: datetime, fences: dict[str, int]) -> None:
    """Refuse (`Fenced`) a sighting made under a lease token its camera's fence has passed. A
    fence standing at this very token since a sighting of the batch passed it (`fences`; the
    row locked by this transaction until it ends) passes it without asking the database again."""
    origin, camera_id = item.origin, item.row.camera_id
    if origin is None or fences.get(camera_id) == origin.token:
        return
    if not sighting_queries.pass_fence(session, camera_id, origin.token, now):
        raise Fenced(
            f"camera {camera_id}: sighting made under a lease token that a "
            "later holder of the camera has superseded"
        )


def _require_fences(session: Session, items: Collection[_Item], now: datetime) -> dict[str, int]:
    """`_require_fence` for each sighting of the batch in its order, asking the database once
    for each camera and token in turn; the token each camera's fence stands at after them."""
    passed: dict[str, int] = {}
    for item in items:
        _require_fence(session, item, now, passed)
        if item.origin is not None:
            passed[item.row.camera_id] = item.origin.token
    return passed


def _insert_rows(session: Session, items: Collection[_Item]) -> list[SightingSaved]:
    """The sightings of `items` (none matched) in one insert; what each saved, in order."""
    if not items:
        return []
    rows = []
    for item in items:
        _name_crop(item)
        rows.append({key: getattr(item.row, key) for key in _COLUMNS})
    ids = sighting_queries.insert_sightings(session, rows)
    return [
        SightingSaved(sighting_id=i, alert_id=None, crop_path=r["crop_path"])
        for i, r in zip(ids, rows, strict=True)
    ]


def _name_crop(item: _Item) -> None:
    """The row names its crop as put (nothing when no crop was put)."""
    item.row.crop_path = "" if item.blob is None else item.blob.path
    item.row.crop_sha256 = "" if item.blob is None else item.blob.sha256


_COLUMNS = [attr.key for attr in sa_inspect(Sighting).column_attrs if attr.key != "id"]


def _lock_fences(session: Session, items: Collection[_Item]) -> None:
    """Lock the fences of the batch's cameras at once, in the order of their ids, before any
    other lock (the alert raising queue comes after, in alerts.raising): two batches that share
    cameras then queue rather than deadlock. Each sighting still checks its own camera's fence."""
    cameras = sorted({item.row.camera_id for item in items if item.origin is not None})
    if cameras:
        # whole rows: each sighting's fence check then finds its camera's in the session
        session.scalars(
            select(CameraFence)
            .where(CameraFence.camera_id.in_(cameras))
            .order_by(CameraFence.camera_id)
            .with_for_update()
        ).all()


def _require_open_authorisation(session: Session, authorisation_id: int) -> None:
    auth = session.get(AuthorisationRow, authorisation_id)
    if auth is None or auth.closed_at is not None or auth.status in {"refused", "revoked"}:
        reference = "?" if auth is None else auth.reference
        raise PermissionDenied(
            f"authorisation {reference} has ended: the sighting derived under it is not stored"
        )


def sighting_row(record: SightingRecord, now: datetime) -> tuple[Sighting, Candidate | None]:
    """The row of a sighting, checked (its crop not yet written), and the candidate it matched
    (None: no match)."""
    camera_id = required_text(record.camera_id, "camera id", max_len=64)
    model = required_text(record.model, "model name", max_len=100)
    started = aware(record.started_at, "started_at")
    ended = aware(record.ended_at, "ended_at")
    if ended < started:
        raise InvalidInput(f"sighting ends ({ended.isoformat()}) before it starts ({started.isoformat()})")
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
        created_at=now,
        authorisation_id=record.authorisation_id,
    )
    return row, matched
