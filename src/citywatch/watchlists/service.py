"""The store of watchlists: the lists, the persons on them, their reference images and
templates (enrolment, with a second person where the two-person rule asks for one), and the
gallery the cameras match against. Reference images are written before their rows (the
store's staging); plain records out, never ORM rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from citywatch.alerts import memory as alert_memory
from citywatch.audit.hooks import AuditHook
from citywatch.domain import values
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, Unavailable
from citywatch.domain.matching import GalleryEntry, NonMatch, Template
from citywatch.domain.records import (
    ChangeKind,
    NewReference,
    PersonInfo,
    ReferenceInfo,
    RemovalReceipt,
    Severity,
    WatchlistInfo,
)
from citywatch.store import change_queries, vectors, watchlist_queries
from citywatch.store.blobs import BlobRef, BlobStore
from citywatch.store.db import WATCHLIST_TABLES, Database
from citywatch.store.staging import ORPHAN_GRACE_S, REFERENCES_FOLDER, Staging
from citywatch.store.watchlist_tables import Person, Watchlist
from citywatch.watchlists.records import checked_reference, person_info, watchlist_created, watchlist_info

log = logging.getLogger(__name__)


class WatchlistService:
    """Watchlists, persons, reference images and templates; every change audited through
    `audit` in its own transaction."""

    def __init__(
        self, db: Database, blobs: BlobStore, *, clock: Clock = utc_now, audit: AuditHook | None = None
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._clock = clock
        self._audit = audit
        self._staging = Staging(db, blobs)

    def _record(self, session: Session, event: AuditEvent) -> None:
        if self._audit is not None:
            self._audit(session, event)

    def _now(self) -> datetime:
        return values.aware(self._clock(), "clock")

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
        name = values.required_text(name, "watchlist name", max_len=200)
        kind = values.category(category)
        level = values.severity(severity)
        values.optional_bound(threshold, "threshold", low=0.0, strict=True)
        values.optional_bound(margin, "margin", low=0.0, strict=False)
        expires = None if expires_at is None else values.aware(expires_at, "expires_at")
        with self._db.session() as session:
            if watchlist_queries.watchlist_by_name(session, name) is not None:
                raise Conflict(f"watchlist {name!r} already exists")
            row = watchlist_queries.insert_watchlist(
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
                session, watchlist_created(row.id, name, kind.value, threshold, margin, severity=level)
            )
            return watchlist_info(row)

    def set_watchlist_severity(self, name: str, severity: str) -> WatchlistInfo:
        """Set what a watchlist's alerts are raised at from now on (alerts already raised keep
        theirs). Audited with the level before and after; no second person: it changes how
        urgent an alert is, not who is matched."""
        level = values.severity(severity)
        with self._db.session() as session:
            row = watchlist_queries.require_watchlist(session, name)
            params = {"watchlist": row.name, "from": row.severity, "to": level.value}
            row.severity = level.value
            self._record(session, AuditEvent(Action.WATCHLIST_SEVERITY, f"watchlist:{row.id}", params=params))
            return watchlist_info(row)

    def get_watchlist(self, name: str) -> WatchlistInfo:
        with self._db.session(write=False) as session:
            return watchlist_info(watchlist_queries.require_watchlist(session, name))

    def list_watchlists(self) -> list[WatchlistInfo]:
        with self._db.session(write=False) as session:
            return [watchlist_info(row) for row in watchlist_queries.all_watchlists(session)]

    def ensure_watchlist(self, name: str, category: str = "wanted") -> WatchlistInfo:
        """The watchlist `name`, created with `category` if missing (Conflict if it has another)."""
        name = values.required_text(name, "watchlist name", max_len=200)
        kind = values.category(category)
        with self._db.session() as session:
            row = watchlist_queries.watchlist_by_name(session, name)
            if row is None:
                row = watchlist_queries.insert_watchlist(
                    session,
                    name=name,
                    category=kind.value,
                    threshold=None,
                    margin=None,
                    expires_at=None,
                    now=self._now(),
                )
                session.flush()
                self._record(session, watchlist_created(row.id, name, kind.value, None, None))
            elif row.category != kind.value:
                raise Conflict(f"watchlist {name!r} exists with category {row.category}, not {kind.value}")
            return watchlist_info(row)

    def add_person(self, watchlist_name: str, display_name: str, notes: str = "") -> PersonInfo:
        display_name = values.required_text(display_name, "display name", max_len=200)
        with self._db.session() as session:
            watchlist = watchlist_queries.require_watchlist(session, watchlist_name)
            person = watchlist_queries.insert_person(
                session, watchlist_id=watchlist.id, display_name=display_name, notes=notes, now=self._now()
            )
            return person_info(watchlist_queries.PersonRow(person, watchlist, 0, 0))

    def find_persons(self, name_or_id: str) -> list[PersonInfo]:
        """Persons by id (when all digits) or by part of their name, case-insensitive."""
        query = name_or_id.strip()
        if not query:
            raise InvalidInput("give a person id or part of a name")
        with self._db.session(write=False) as session:
            if query.isascii() and query.isdigit():
                rows = watchlist_queries.persons(session, person_id=int(query))
            else:
                rows = watchlist_queries.persons(session, name_contains=query)
            return [person_info(row) for row in rows]

    def get_person(self, person_id: int) -> PersonInfo:
        with self._db.session(write=False) as session:
            return person_info(_require_person_row(session, person_id))

    def list_persons(self, watchlist_name: str | None = None) -> list[PersonInfo]:
        with self._db.session(write=False) as session:
            watchlist_id = None
            if watchlist_name is not None:
                watchlist_id = watchlist_queries.require_watchlist(session, watchlist_name).id
            return [person_info(row) for row in watchlist_queries.persons(session, watchlist_id=watchlist_id)]

    def update_person(
        self, person_id: int, *, display_name: str | None = None, notes: str | None = None
    ) -> PersonInfo:
        """Change a person's name or notes, at once. Moving them onto another watchlist changes
        what that list matches, so it waits for a second person: ChangeService.move_person."""
        with self._db.session() as session:
            person = _require_person(session, person_id)
            changed = False
            if display_name is not None:
                person.display_name = values.required_text(display_name, "display name", max_len=200)
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
            return person_info(_require_person_row(session, person_id))

    def remove_person(self, person_id: int) -> RemovalReceipt:
        """Delete a person with their reference images and templates, then unlink the images."""
        with self._db.session() as session:
            person = _require_person(session, person_id)
            references = [
                (ref.blob_path, ref.sha256) for ref in watchlist_queries.references_of(session, person_id)
            ]
            templates = watchlist_queries.count_templates_of(session, person_id)
            withdrawn = change_queries.withdraw_changes(
                session, f"person:{person_id}", now=self._now(), note="withdrawn: the person was removed"
            )
            watchlist_queries.delete_person(session, person)
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
            self._db.checkpoint(erase=WATCHLIST_TABLES)  # no copy of the deleted templates stays behind
        except Unavailable:
            log.warning(
                "person %d removed, but the WAL checkpoint failed; the next one completes it", person_id
            )
        unlinked = sum(1 for path, _sha in references if self._staging.unlink_after_commit(path))
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

    def persons_page(
        self, limit: int = 50, *, after_id: int | None = None, watchlist_name: str | None = None
    ) -> list[PersonInfo]:
        """A page of persons in id order (ids above `after_id`)."""
        values.list_limit(limit)
        with self._db.session(write=False) as session:
            watchlist_id = None
            if watchlist_name is not None:
                watchlist_id = watchlist_queries.require_watchlist(session, watchlist_name).id
            rows = watchlist_queries.persons_page(
                session, limit=limit, after_id=after_id, watchlist_id=watchlist_id
            )
            return [person_info(row) for row in rows]

    def watchlist_sizes(self) -> dict[int, int]:
        """Persons per watchlist id (pending ones too); a list with none is absent."""
        with self._db.session(write=False) as session:
            return watchlist_queries.watchlist_sizes(session)

    def references(self, person_id: int) -> list[ReferenceInfo]:
        """A person's reference images, oldest first (their source and legal basis; the image
        is `blobs.read(blob_path)`, a read of biometric data its caller audits)."""
        with self._db.session(write=False) as session:
            _require_person_row(session, person_id)
            return [
                ReferenceInfo(r.id, r.person_id, r.blob_path, r.sha256, r.source, r.legal_basis, r.created_at)
                for r in watchlist_queries.references_of(session, person_id)
            ]

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
        approved (see citywatch.changes.service). Without a proposer everything is active at
        once: for throwaway stores (benchmarks) and tests only.
        """
        if not references:
            raise InvalidInput("give at least one reference image")
        target: int | NewPerson = (
            person_id
            if person_id is not None
            else NewPerson(
                watchlist_name, values.required_text(display_name, "display name", max_len=200), notes
            )
        )
        stored_person, _ = self._add_references(target, references, proposer)
        return self.get_person(stored_person)

    def _add_references(
        self, target: int | NewPerson, references: Sequence[NewReference], proposer: Actor | None = None
    ) -> tuple[int, list[int]]:
        checked = [checked_reference(r) for r in references]
        if isinstance(target, int):
            with self._db.session(write=False) as session:
                _require_person(session, target)
        with ExitStack() as staged:
            blobs = []
            for ref, _encoded in checked:
                blob = self._blobs.put(ref.image_bytes, folder=REFERENCES_FOLDER, suffix=ref.suffix)
                staged.enter_context(self._staging.staged(blob))
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
        watchlist = watchlist_queries.require_watchlist(session, new.watchlist_name)
        person = watchlist_queries.insert_person(
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
        change = change_queries.insert_change(
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
        dims = watchlist_queries.template_dims(session, ref.model) - {dim}
        if dims:
            raise InvalidInput(
                f"model {ref.model} templates have {sorted(dims)[0]} values, this one has {dim}"
            )
        reference = watchlist_queries.insert_reference(
            session,
            person_id=person_id,
            blob_path=blob.path,
            sha256=blob.sha256,
            source=ref.source,
            legal_basis=ref.legal_basis,
            now=self._now(),
        )
        watchlist_queries.insert_template(
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
        now = values.aware(now, "now")
        with self._db.session(write=False) as session:
            return [
                GalleryEntry(
                    template_id=row.template_id,
                    person_id=row.person_id,
                    person_name=row.person_name,
                    watchlist_id=row.watchlist_id,
                    watchlist_name=row.watchlist_name,
                    threshold=default_threshold if row.threshold is None else row.threshold,
                    margin=default_margin if row.margin is None else row.margin,
                    vector=vectors.decode(row.vector, row.dim),
                )
                for row in watchlist_queries.gallery_rows(session, model=model, now=now)
            ]

    def non_matches(self, model: str) -> list[NonMatch]:
        """The faces of `model` dismissed as false matches, per person, loaded with the gallery:
        a face nearer one of these than the person's own templates does not alert for them."""
        with self._db.session(write=False) as session:
            return alert_memory.non_matches(session, model=model)

    def clean_orphan_references(self, *, older_than_s: float = ORPHAN_GRACE_S) -> int:
        """Delete reference image files no row references (a crash in add/remove); returns the count."""
        return self._staging.clean_orphans(
            REFERENCES_FOLDER, watchlist_queries.all_reference_paths, older_than_s
        )


@dataclass(frozen=True, slots=True)
class NewPerson:
    watchlist_name: str
    display_name: str
    notes: str


def _require_person(session: Session, person_id: int) -> Person:
    row = watchlist_queries.person_by_id(session, person_id)
    if row is None:
        raise NotFound(f"no person with id {person_id}")
    return row


def _require_person_row(session: Session, person_id: int) -> watchlist_queries.PersonRow:
    rows = watchlist_queries.persons(session, person_id=person_id)
    if not rows:
        raise NotFound(f"no person with id {person_id}")
    return rows[0]
