"""MetaStore: the store's service API. Writes blobs before rows, one transaction per action,
and hands out plain records, never ORM objects.

Crash safety: a blob is durable (fsynced) before the transaction that references it
commits, so a crash leaves either the row with its file or an orphan file, which
`clean_orphan_crops` / `clean_orphan_references` remove later.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from citywatch.alerts import memory as alert_memory
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable
from citywatch.domain.matching import GalleryEntry, NonMatch, Template
from citywatch.domain.records import (
    AlertInfo,
    AlertStatus,
    ChangeKind,
    NewReference,
    PersonInfo,
    ReferenceInfo,
    RemovalReceipt,
    SearchCandidate,
    Severity,
    SightingInfo,
    SightingRecord,
    SightingSaved,
    WatchlistCategory,
    WatchlistInfo,
)
from citywatch.store import repositories as repo
from citywatch.store import vectors
from citywatch.store.blobs import BlobRef, BlobStore
from citywatch.store.db import Database, open_database
from citywatch.store.tables import Alert, AuthorisationRow, Person, Sighting, Watchlist

log = logging.getLogger(__name__)

AuditHook = Callable[[Session, AuditEvent], None]
"""Writes an audit record inside the session of the action it records."""
AlertHook = Callable[[Session, Alert], None]
"""Told of each new alert inside its transaction (the delivery outbox writes its rows)."""

REFERENCES_FOLDER = "references"
CROPS_FOLDER = "crops"
REQUEST_PHOTOS_FOLDER = "requests"
"""Subject-access requesters' own photos, kept until each request is answered."""
ORPHAN_GRACE_S = 30.0
"""Blobs younger than this are never taken for orphans: their row may be about to commit."""
MAX_LIST = 10_000


def open_store(database_url: str, blob_root: Path) -> MetaStore:
    """Open (and migrate) the database and the blob store beside it."""
    return MetaStore(open_database(database_url), BlobStore(blob_root))


class MetaStore:
    """Watchlists, persons, reference images, templates, sightings and alerts."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        clock: Clock = utc_now,
        alert_cooldown_s: float = 0.0,
        audit: AuditHook | None = None,
        on_alert: AlertHook | None = None,
    ) -> None:
        """`alert_cooldown_s`: a match of a person on a camera this close to their last alert
        there raises none (0: every match alerts; the runtime passes `alerts.cooldown_s`)."""
        self._db = db
        self._blobs = blobs
        self._clock = clock
        self._cooldown = timedelta(seconds=alert_cooldown_s)
        self._audit = audit
        self._on_alert = on_alert
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()

    def _record(self, session: Session, event: AuditEvent) -> None:
        if self._audit is not None:
            self._audit(session, event)

    @property
    def db(self) -> Database:
        return self._db

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    # --- watchlists -----------------------------------------------------------------------

    def create_watchlist(
        self,
        name: str,
        category: str = "wanted",
        threshold: float | None = None,
        margin: float | None = None,
        expires_at: datetime | None = None,
        *,
        severity: str = Severity.MEDIUM,
    ) -> WatchlistInfo:
        name = _text(name, "watchlist name", max_len=200)
        kind = _category(category)
        level = _severity(severity)
        _check_optional(threshold, "threshold", low=0.0, strict=True)
        _check_optional(margin, "margin", low=0.0, strict=False)
        expires = None if expires_at is None else _aware(expires_at, "expires_at")
        with self._db.session() as session:
            if repo.watchlist_by_name(session, name) is not None:
                raise Conflict(f"watchlist {name!r} already exists")
            row = repo.insert_watchlist(
                session,
                name=name,
                category=kind.value,
                threshold=threshold,
                margin=margin,
                expires_at=expires,
                now=self._now(),
            )
            row.severity = level.value
            session.flush()
            self._record(
                session, _watchlist_created(row.id, name, kind.value, threshold, margin, severity=level)
            )
            return _watchlist_info(row)

    def set_watchlist_severity(self, name: str, severity: str) -> WatchlistInfo:
        """Set what a watchlist's alerts are raised at from now on (alerts already raised keep
        theirs). Audited with the level before and after; no second person: it changes how
        urgent an alert is, not who is matched."""
        level = _severity(severity)
        with self._db.session() as session:
            row = repo.require_watchlist(session, name)
            params = {"watchlist": row.name, "from": row.severity, "to": level.value}
            row.severity = level.value
            self._record(session, AuditEvent(Action.WATCHLIST_SEVERITY, f"watchlist:{row.id}", params=params))
            return _watchlist_info(row)

    def get_watchlist(self, name: str) -> WatchlistInfo:
        with self._db.session(write=False) as session:
            return _watchlist_info(repo.require_watchlist(session, name))

    def list_watchlists(self) -> list[WatchlistInfo]:
        with self._db.session(write=False) as session:
            return [_watchlist_info(row) for row in repo.all_watchlists(session)]

    def ensure_watchlist(self, name: str, category: str = "wanted") -> WatchlistInfo:
        """The watchlist `name`, created with `category` if missing (Conflict if it has another)."""
        name = _text(name, "watchlist name", max_len=200)
        kind = _category(category)
        with self._db.session() as session:
            row = repo.watchlist_by_name(session, name)
            if row is None:
                row = repo.insert_watchlist(
                    session,
                    name=name,
                    category=kind.value,
                    threshold=None,
                    margin=None,
                    expires_at=None,
                    now=self._now(),
                )
                session.flush()
                self._record(session, _watchlist_created(row.id, name, kind.value, None, None))
            elif row.category != kind.value:
                raise Conflict(f"watchlist {name!r} exists with category {row.category}, not {kind.value}")
            return _watchlist_info(row)

    # --- persons --------------------------------------------------------------------------

    def add_person(self, watchlist_name: str, display_name: str, notes: str = "") -> PersonInfo:
        display_name = _text(display_name, "display name", max_len=200)
        with self._db.session() as session:
            watchlist = repo.require_watchlist(session, watchlist_name)
            person = repo.insert_person(
                session, watchlist_id=watchlist.id, display_name=display_name, notes=notes, now=self._now()
            )
            return _person_info(repo.PersonRow(person, watchlist, 0, 0))

    def find_persons(self, name_or_id: str) -> list[PersonInfo]:
        """Persons by id (when all digits) or by part of their name, case-insensitive."""
        query = name_or_id.strip()
        if not query:
            raise InvalidInput("give a person id or part of a name")
        with self._db.session(write=False) as session:
            if query.isascii() and query.isdigit():
                rows = repo.persons(session, person_id=int(query))
            else:
                rows = repo.persons(session, name_contains=query)
            return [_person_info(row) for row in rows]

    def get_person(self, person_id: int) -> PersonInfo:
        with self._db.session(write=False) as session:
            return _person_info(_require_person_row(session, person_id))

    def list_persons(self, watchlist_name: str | None = None) -> list[PersonInfo]:
        with self._db.session(write=False) as session:
            watchlist_id = None
            if watchlist_name is not None:
                watchlist_id = repo.require_watchlist(session, watchlist_name).id
            return [_person_info(row) for row in repo.persons(session, watchlist_id=watchlist_id)]

    def update_person(
        self, person_id: int, *, display_name: str | None = None, notes: str | None = None
    ) -> PersonInfo:
        """Change a person's name or notes, at once. Moving them onto another watchlist changes
        what that list matches, so it waits for a second person: ChangeStore.move_person."""
        with self._db.session() as session:
            person = _require_person(session, person_id)
            changed = False
            if display_name is not None:
                person.display_name = _text(display_name, "display name", max_len=200)
                changed = True
            if notes is not None:
                person.notes = notes
                changed = True
            if changed:
                person.updated_at = self._now()
                session.flush()
                fields = [k for k, v in (("display_name", display_name), ("notes", notes)) if v is not None]
                self._record(
                    session,
                    AuditEvent(Action.PERSON_UPDATE, f"person:{person_id}", params={"fields": fields}),
                )
            return _person_info(_require_person_row(session, person_id))

    def remove_person(self, person_id: int) -> RemovalReceipt:
        """Delete a person with their reference images and templates, then unlink the images."""
        with self._db.session() as session:
            person = _require_person(session, person_id)
            references = [(ref.blob_path, ref.sha256) for ref in repo.references_of(session, person_id)]
            templates = repo.count_templates_of(session, person_id)
            withdrawn = repo.withdraw_changes(
                session, f"person:{person_id}", now=self._now(), note="withdrawn: the person was removed"
            )
            repo.delete_person(session, person)
            self._record(
                session,
                AuditEvent(
                    Action.PERSON_REMOVE,
                    f"person:{person_id}",
                    params={"reference_images": len(references), "changes_withdrawn": withdrawn},
                    result_count=templates,
                ),
            )
        try:
            self._db.checkpoint()  # no copy of the deleted templates stays behind in the WAL
        except Unavailable:
            log.warning(
                "person %d removed, but the WAL checkpoint failed; the next one completes it", person_id
            )
        unlinked = sum(1 for path, _sha in references if self._unlink_after_commit(path))
        if unlinked < len(references):
            log.warning(
                "person %d: %d of %d reference image files were already missing",
                person_id,
                len(references) - unlinked,
                len(references),
            )
        log.info("person %d removed with %d templates", person_id, templates)
        return RemovalReceipt(
            person_id=person_id,
            reference_images=len(references),
            templates=templates,
            blob_sha256s=tuple(sha for _path, sha in references),
            blobs_unlinked=unlinked,
        )

    # --- references and the gallery ------------------------------------------------------

    def add_reference(  # noqa: PLR0917 (the positional order is the published API)
        self,
        person_id: int,
        image_bytes: bytes,
        suffix: str,
        source: str,
        legal_basis: str,
        model: str,
        vector: Template,
    ) -> int:
        """Store a reference image with its provenance and template; returns the reference id."""
        reference = NewReference(image_bytes, suffix, source, legal_basis, model, vector)
        return self._add_references(person_id, [reference])[1][0]

    def enroll(
        self,
        references: Sequence[NewReference],
        *,
        person_id: int | None = None,
        watchlist_name: str = "",
        display_name: str = "",
        notes: str = "",
        proposer: Actor | None = None,
    ) -> PersonInfo:
        """A new person (or `person_id`) with all their references and templates, in one
        transaction after every image file is on disk: all of it is stored, or none.

        With `proposer` (the actor this store audits for), the addition waits for a second
        person (two-person rule): a new person is stored `pending`, new references on an
        existing person are held back, and a change (`person.add` or `person.reference`) is
        proposed in the same transaction; nothing of it is matched until that change is
        approved (see citywatch.governance.changes). Without a proposer everything is active at
        once: for throwaway stores (benchmarks) and tests only.
        """
        if not references:
            raise InvalidInput("give at least one reference image")
        target: int | NewPerson = (
            person_id
            if person_id is not None
            else NewPerson(watchlist_name, _text(display_name, "display name", max_len=200), notes)
        )
        stored_person, _ = self._add_references(target, references, proposer)
        return self.get_person(stored_person)

    def _add_references(
        self, target: int | NewPerson, references: Sequence[NewReference], proposer: Actor | None = None
    ) -> tuple[int, list[int]]:
        checked = [_checked_reference(r) for r in references]
        if isinstance(target, int):
            with self._db.session(write=False) as session:
                _require_person(session, target)
        with ExitStack() as staged:
            blobs = []
            for ref, _encoded in checked:
                blob = self._blobs.put(ref.image_bytes, folder=REFERENCES_FOLDER, suffix=ref.suffix)
                staged.enter_context(self._staged(blob))
                blobs.append(blob)
            with self._db.session() as session:
                person_id = (
                    target if isinstance(target, int) else self._insert_person(session, target, proposer)
                )
                _require_person(session, person_id)
                ids = [
                    self._insert_reference(session, person_id, ref, encoded, blob)
                    for (ref, encoded), blob in zip(checked, blobs, strict=True)
                ]
                self._record(
                    session,
                    AuditEvent(
                        Action.PERSON_ENROL,
                        f"person:{person_id}",
                        legal_basis="; ".join(sorted({r.legal_basis for r, _ in checked})),
                        params={
                            "new_person": not isinstance(target, int),
                            "sources": sorted({r.source for r, _ in checked}),
                            "model": checked[0][0].model,
                            "reference_sha256": [b.sha256 for b in blobs],
                        },
                        result_count=len(ids),
                    ),
                )
                if proposer is not None:
                    self._propose_addition(session, proposer, person_id, ids, new=not isinstance(target, int))
        return person_id, ids

    def _insert_person(self, session: Session, new: NewPerson, proposer: Actor | None) -> int:
        watchlist = repo.require_watchlist(session, new.watchlist_name)
        person = repo.insert_person(
            session,
            watchlist_id=watchlist.id,
            display_name=new.display_name,
            notes=new.notes,
            now=self._now(),
            status="active" if proposer is None else "pending",
            proposed_by="" if proposer is None else proposer.name,
        )
        return person.id

    def _propose_addition(
        self, session: Session, proposer: Actor, person_id: int, reference_ids: list[int], *, new: bool
    ) -> None:
        """The change a second person must approve before these references are matched."""
        person = _require_person(session, person_id)
        watchlist = session.get(Watchlist, person.watchlist_id)
        kind = ChangeKind.PERSON_ADD if new else ChangeKind.PERSON_REFERENCE
        params = {
            "person_id": person_id,
            "watchlist": "" if watchlist is None else watchlist.name,
            "reference_ids": reference_ids,
        }
        change = repo.insert_change(
            session,
            kind=kind,
            object=f"person:{person_id}",
            params=params,
            proposed_by=proposer.name,
            proposed_role=proposer.role,
            proposed_by_service=proposer.service,
            now=self._now(),
        )
        event = AuditEvent(
            Action.CHANGE_PROPOSE, f"change:{change.id}", params={"kind": kind.value, **params}
        )
        self._record(session, event)

    def _insert_reference(
        self, session: Session, person_id: int, ref: NewReference, encoded: bytes, blob: BlobRef
    ) -> int:
        dim = len(encoded) // 4
        dims = repo.template_dims(session, ref.model) - {dim}
        if dims:
            raise InvalidInput(
                f"model {ref.model} templates have {sorted(dims)[0]} values, this one has {dim}"
            )
        reference = repo.insert_reference(
            session,
            person_id=person_id,
            blob_path=blob.path,
            sha256=blob.sha256,
            source=ref.source,
            legal_basis=ref.legal_basis,
            now=self._now(),
        )
        repo.insert_template(
            session,
            person_id=person_id,
            reference_image_id=reference.id,
            model=ref.model,
            vector=encoded,
            dim=dim,
            now=self._now(),
        )
        return reference.id

    def gallery(
        self, model: str, now: datetime, default_threshold: float, default_margin: float
    ) -> list[GalleryEntry]:
        """Templates of `model` on watchlists active and unexpired at `now`."""
        now = _aware(now, "now")
        with self._db.session(write=False) as session:
            return [
                GalleryEntry(
                    template_id=template.id,
                    person_id=person.id,
                    person_name=person.display_name,
                    watchlist_id=watchlist.id,
                    watchlist_name=watchlist.name,
                    threshold=default_threshold if watchlist.threshold is None else watchlist.threshold,
                    margin=default_margin if watchlist.margin is None else watchlist.margin,
                    vector=vectors.decode(template.vector, template.dim),
                )
                for template, person, watchlist in repo.gallery_rows(session, model=model, now=now)
            ]

    def non_matches(self, model: str) -> list[NonMatch]:
        """The faces of `model` dismissed as false matches, per person, loaded with the gallery:
        a face nearer one of these than the person's own templates does not alert for them."""
        with self._db.session(write=False) as session:
            return alert_memory.non_matches(session, model=model)

    # --- sightings and alerts -------------------------------------------------------------

    def add_sighting(self, record: SightingRecord) -> SightingSaved:
        """Write the crop, then the sighting (and its alert when it matched) in one transaction.

        One alert per person per camera episode: a match within the cooldown of that person's
        last alert on the camera is stored as a sighting (decision `match`, with the alert it
        belongs to named in the decision) and raises no alert. An alert carries its
        watchlist's severity as it is when raised.

        A sighting derived under an authorisation that has been closed, refused or revoked
        meanwhile is refused (PermissionDenied) in that same transaction: the camera's view
        of the policy may be seconds old, the database's is not."""
        row, alert = self._sighting_rows(record)
        blob = self._blobs.put(record.crop_jpeg, folder=f"{CROPS_FOLDER}/{row.day}", suffix=".jpg")
        row.crop_path = blob.path
        row.crop_sha256 = blob.sha256
        with self._staged(blob), self._db.session() as session:
            # The person or watchlist may have been removed since the gallery was loaded:
            # keep the sighting with its name snapshots rather than lose it.
            if row.person_id is not None and repo.person_by_id(session, row.person_id) is None:
                row.person_id = None
            if row.watchlist_id is not None and session.get(Watchlist, row.watchlist_id) is None:
                row.watchlist_id = None
            if row.authorisation_id is not None:
                _require_open_authorisation(session, row.authorisation_id)
            cooldown_of = None
            if alert is not None and row.person_id is not None:
                cooldown_of = alert_memory.cooldown_alert(
                    session,
                    person_id=row.person_id,
                    camera_id=row.camera_id,
                    kind=alert.kind or "match",
                    started_at=row.started_at,
                    cooldown=self._cooldown,
                )
            if cooldown_of is not None:
                row.decision = f"{row.decision}; alert suppressed: cooldown of alert {cooldown_of}"
                alert = None
            repo.insert_sighting(session, row)
            alert_id = None
            if alert is not None:
                watchlist = None if row.watchlist_id is None else session.get(Watchlist, row.watchlist_id)
                alert.severity = Severity.MEDIUM.value if watchlist is None else watchlist.severity
                alert.sighting_id = row.id
                alert.person_id = row.person_id
                alert.watchlist_id = row.watchlist_id
                alert_id = repo.insert_alert(session, alert).id
                if self._on_alert is not None:
                    self._on_alert(session, alert)
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
        since = None if since is None else _aware(since, "since")
        until = None if until is None else _aware(until, "until")
        if since is not None and until is not None and since > until:
            raise InvalidInput(
                f"search window starts ({since.isoformat()}) after it ends ({until.isoformat()})"
            )
        with self._db.session(write=False) as session:
            rows = repo.search_rows(session, model=model, camera_ids=camera_ids, since=since, until=until)
            return [
                SearchCandidate(
                    id=row.id,
                    camera_id=row.camera_id,
                    started_at=row.started_at,
                    ended_at=row.ended_at,
                    crop_path=str(self._blobs.absolute(row.crop_path)),
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
        since, until = _aware(since, "since"), _aware(until, "until")
        with self._db.session(write=False) as session:
            rows = repo.sightings_in(session, camera_ids=camera_ids, since=since, until=until)
            alerts = repo.alerts_of(session, [r.id for r in rows])
            return [_sighting_info(r) for r in rows], [alert_info(a) for a in alerts]

    def list_sightings(
        self, limit: int = 50, camera_id: str | None = None, *, camera_ids: Collection[str] | None = None
    ) -> list[SightingInfo]:
        """The latest sightings (of `camera_id`, and only of `camera_ids` when given)."""
        _check_limit(limit)
        with self._db.session(write=False) as session:
            rows = repo.recent_sightings(session, limit=limit, camera_id=camera_id, camera_ids=camera_ids)
            return [_sighting_info(row) for row in rows]

    def list_alerts(
        self, limit: int = 50, status: str | None = None, *, camera_ids: Collection[str] | None = None
    ) -> list[AlertInfo]:
        """The latest alerts (only of `camera_ids` when given)."""
        _check_limit(limit)
        wanted = None if status is None else _alert_status(status).value
        with self._db.session(write=False) as session:
            rows = repo.recent_alerts(session, limit=limit, status=wanted, camera_ids=camera_ids)
            return [alert_info(row) for row in rows]

    def alerts_after(
        self, after_id: int, limit: int = 500, *, camera_ids: Collection[str] | None = None
    ) -> list[AlertInfo]:
        """Alerts with an id above `after_id`, oldest first (only of `camera_ids` when given):
        what a live-feed client missed since the last alert it saw."""
        _check_limit(limit)
        with self._db.session(write=False) as session:
            rows = repo.alerts_after(session, after_id=after_id, limit=limit, camera_ids=camera_ids)
            return [alert_info(row) for row in rows]

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
        _check_limit(limit)
        with self._db.session(write=False) as session:
            rows = repo.sightings_page(
                session, limit=limit, before_id=before_id, camera_id=camera_id, camera_ids=camera_ids
            )
            return [_sighting_info(row) for row in rows]

    def get_sighting(self, sighting_id: int) -> SightingInfo:
        with self._db.session(write=False) as session:
            row = session.get(Sighting, sighting_id)
            if row is None:
                raise NotFound(f"no sighting with id {sighting_id}")
            return _sighting_info(row)

    def sighting_margins(self, sighting_ids: Collection[int]) -> dict[int, float | None]:
        """Each still-stored sighting's margin to the runner-up (None: no runner-up), in one
        query; a purged sighting is absent."""
        if not sighting_ids:
            return {}
        with self._db.session(write=False) as session:
            return repo.sighting_margins(session, sighting_ids)

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
        _check_limit(limit)
        wanted = None if status is None else _alert_status(status).value
        with self._db.session(write=False) as session:
            rows = repo.alerts_page(
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
            row = repo.alert_by_id(session, alert_id)
            if row is None:
                raise NotFound(f"no alert with id {alert_id}")
            return alert_info(row)

    def persons_page(
        self, limit: int = 50, *, after_id: int | None = None, watchlist_name: str | None = None
    ) -> list[PersonInfo]:
        """A page of persons in id order (ids above `after_id`)."""
        _check_limit(limit)
        with self._db.session(write=False) as session:
            watchlist_id = None
            if watchlist_name is not None:
                watchlist_id = repo.require_watchlist(session, watchlist_name).id
            rows = repo.persons_page(session, limit=limit, after_id=after_id, watchlist_id=watchlist_id)
            return [_person_info(row) for row in rows]

    def watchlist_sizes(self) -> dict[int, int]:
        """Persons per watchlist id (pending ones too); a list with none is absent."""
        with self._db.session(write=False) as session:
            return repo.watchlist_sizes(session)

    def references(self, person_id: int) -> list[ReferenceInfo]:
        """A person's reference images, oldest first (their source and legal basis; the image
        is `blobs.read(blob_path)`, a read of biometric data its caller audits)."""
        with self._db.session(write=False) as session:
            _require_person_row(session, person_id)
            return [
                ReferenceInfo(r.id, r.person_id, r.blob_path, r.sha256, r.source, r.legal_basis, r.created_at)
                for r in repo.references_of(session, person_id)
            ]

    def count_sightings(self) -> int:
        with self._db.session(write=False) as session:
            return repo.count_sightings(session)

    # --- housekeeping ---------------------------------------------------------------------

    def clean_orphan_crops(self, *, older_than_s: float = ORPHAN_GRACE_S) -> int:
        """Delete crop files no sighting references (left by a crash before commit); returns the count."""
        return self._clean_orphans(CROPS_FOLDER, repo.all_crop_paths, older_than_s)

    def clean_orphan_references(self, *, older_than_s: float = ORPHAN_GRACE_S) -> int:
        """Delete reference image files no row references (a crash in add/remove); returns the count."""
        return self._clean_orphans(REFERENCES_FOLDER, repo.all_reference_paths, older_than_s)

    def clean_orphan_request_photos(self, *, older_than_s: float = ORPHAN_GRACE_S) -> int:
        """Delete requester photos no request keeps (a crash between forgetting and unlinking)."""
        return self._clean_orphans(REQUEST_PHOTOS_FOLDER, repo.all_request_photo_paths, older_than_s)

    def close(self) -> None:
        self._db.close()

    # --- internals ------------------------------------------------------------------------

    def _unlink_after_commit(self, path: str) -> bool:
        # The rows are gone already; a file that cannot be unlinked now is left for
        # clean_orphan_references rather than failing the whole removal.
        try:
            return self._blobs.delete(path)
        except Unavailable:
            log.exception("cannot unlink %s; clean_orphan_references will retry", path)
            return False

    def _now(self) -> datetime:
        return _aware(self._clock(), "clock")

    @contextmanager
    def _staged(self, blob: BlobRef) -> Iterator[None]:
        """While the row for `blob` is being committed: shield it from orphan cleaning,
        and delete it if the transaction fails."""
        with self._pending_lock:
            self._pending.add(blob.path)
        try:
            yield
        except BaseException:
            try:
                self._blobs.delete(blob.path)
            except Exception:
                log.warning("cannot delete %s after a failed transaction", blob.path, exc_info=True)
            raise
        finally:
            with self._pending_lock:
                self._pending.discard(blob.path)

    def _clean_orphans(
        self, folder: str, referenced: Callable[[Session], set[str]], older_than_s: float
    ) -> int:
        if not (older_than_s >= 0 and math.isfinite(older_than_s)):
            raise InvalidInput(f"older_than_s must be a non-negative number, got {older_than_s}")
        # Files first, then in-flight blobs, then rows: a blob committed meanwhile is in the rows.
        candidates = self._blobs.orphans(set(), folder=folder, older_than_s=older_than_s)
        with self._pending_lock:
            keep = set(self._pending)
        with self._db.session(write=False) as session:
            keep |= referenced(session)
        removed = sum(1 for path in candidates if path not in keep and self._blobs.delete(path))
        if removed:
            log.info("removed %d orphan files under %s", removed, folder)
        return removed

    def _sighting_rows(self, record: SightingRecord) -> tuple[Sighting, Alert | None]:
        camera_id = _text(record.camera_id, "camera id", max_len=64)
        model = _text(record.model, "model name", max_len=100)
        started = _aware(record.started_at, "started_at")
        ended = _aware(record.ended_at, "ended_at")
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
        now = self._now()
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
        alert = None
        if matched is not None:
            alert = Alert(
                camera_id=camera_id,
                person_name=matched.person_name,
                watchlist_name=matched.watchlist_name,
                distance=float(matched.distance),
                status=AlertStatus.NEW.value,
                created_at=now,
                kind="match" if record.order_id is None else "order_violation",
                order_id=record.order_id,
            )
        return row, alert


# --- validation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewPerson:
    watchlist_name: str
    display_name: str
    notes: str


def _watchlist_created(
    watchlist_id: int,
    name: str,
    category: str,
    threshold: float | None,
    margin: float | None,
    *,
    severity: Severity = Severity.MEDIUM,
) -> AuditEvent:
    params = {
        "name": name,
        "category": category,
        "threshold": threshold,
        "margin": margin,
        "severity": severity.value,
    }
    return AuditEvent(Action.WATCHLIST_CREATE, f"watchlist:{watchlist_id}", params=params)


def _checked_reference(ref: NewReference) -> tuple[NewReference, bytes]:
    """The reference with its provenance trimmed and required, and its encoded template."""
    if not ref.image_bytes:
        raise InvalidInput("the reference image is empty")
    clean = NewReference(
        image_bytes=ref.image_bytes,
        suffix=ref.suffix,
        source=_text(ref.source, "source of the reference image"),
        legal_basis=_text(ref.legal_basis, "legal basis of the reference image"),
        model=_text(ref.model, "model name", max_len=100),
        vector=ref.vector,
    )
    return clean, vectors.encode(ref.vector)


def _text(value: str, what: str, *, max_len: int | None = None) -> str:
    stripped = value.strip()
    if not stripped:
        raise InvalidInput(f"{what} must not be blank")
    if max_len is not None and len(stripped) > max_len:
        raise InvalidInput(f"{what} is longer than {max_len} characters")
    return stripped


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be a timezone-aware datetime, got {value.isoformat()}")
    return value.astimezone(UTC)


def _category(value: str) -> WatchlistCategory:
    try:
        return WatchlistCategory(value)
    except ValueError:
        allowed = ", ".join(c.value for c in WatchlistCategory)
        raise InvalidInput(f"watchlist category {value!r} is not one of {allowed}") from None


def _severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise InvalidInput(f"severity {value!r} is not one of {allowed}") from None


def _alert_status(value: str) -> AlertStatus:
    try:
        return AlertStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in AlertStatus)
        raise InvalidInput(f"alert status {value!r} is not one of {allowed}") from None


def _check_optional(value: float | None, what: str, *, low: float, strict: bool) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < low or (strict and value == low):
        bound = f"greater than {low}" if strict else f"at least {low}"
        raise InvalidInput(f"{what} must be {bound}, got {value}")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST}, got {limit}")


# --- lookups that raise -------------------------------------------------------------------


def _require_open_authorisation(session: Session, authorisation_id: int) -> None:
    auth = session.get(AuthorisationRow, authorisation_id)
    if auth is None or auth.closed_at is not None or auth.status in {"refused", "revoked"}:
        reference = "?" if auth is None else auth.reference
        raise PermissionDenied(
            f"authorisation {reference} has ended: the sighting derived under it is not stored"
        )


def _require_person(session: Session, person_id: int) -> Person:
    row = repo.person_by_id(session, person_id)
    if row is None:
        raise NotFound(f"no person with id {person_id}")
    return row


def _require_person_row(session: Session, person_id: int) -> repo.PersonRow:
    rows = repo.persons(session, person_id=person_id)
    if not rows:
        raise NotFound(f"no person with id {person_id}")
    return rows[0]


# --- ORM rows → records -------------------------------------------------------------------


def _watchlist_info(row: Watchlist) -> WatchlistInfo:
    return WatchlistInfo(
        id=row.id,
        name=row.name,
        category=WatchlistCategory(row.category),
        threshold=row.threshold,
        margin=row.margin,
        active=row.active,
        expires_at=row.expires_at,
        created_at=row.created_at,
        severity=Severity(row.severity),
    )


def _person_info(row: repo.PersonRow) -> PersonInfo:
    person = row.person
    return PersonInfo(
        id=person.id,
        watchlist_id=row.watchlist.id,
        watchlist_name=row.watchlist.name,
        display_name=person.display_name,
        notes=person.notes,
        created_at=person.created_at,
        updated_at=person.updated_at,
        reference_images=row.reference_images,
        templates=row.templates,
        status=person.status,
        proposed_by=person.proposed_by,
        approved_by=person.approved_by,
    )


def _sighting_info(row: Sighting) -> SightingInfo:
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


__all__ = ["CROPS_FOLDER", "REFERENCES_FOLDER", "MetaStore", "alert_info", "open_store"]
