"""The purge and what it deletes.

The purge selects, per data class, what has outlived its retention with one query per class
that already excludes everything a hold in force covers (built from the same hold records
`domain.retention.held` reads). Rows go in one transaction together with their receipt and
its audit record; the WAL is checkpointed (SQLite `secure_delete` is on, so no copy stays);
files are unlinked after the commit. A purge killed midway either committed (its files are
orphans, removed at the start of the next purge) or did not (the next purge does it all).

Faces remembered as non-matches (dismissed false matches) are copies of sighting templates:
they go with the templates' retention, counted from when the face was seen, whatever holds
say (a hold keeps the sighting and its own template; the non-match is no evidence, only a
correction to matching). The receipt counts them as `non_matches`.

Audit records past their retention go in the same transaction, through the audit log: the
oldest run of records is deleted behind a signed anchor, so the chain still verifies (see
citywatch.audit.log.AuditLog.prune_in); the receipt counts them with their sequence range.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, not_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from citywatch.audit.hooks import ActorAuditHook
from citywatch.audit.log import AuditLog, AuditPrune, AuditSpan
from citywatch.audit.receipts import ReceiptInfo, receipt_info, write_receipt
from citywatch.domain.access import within_scope
from citywatch.domain.audit import Actor
from citywatch.domain.clock import Clock
from citywatch.domain.errors import Unavailable
from citywatch.domain.retention import DataClass, Hold, RetentionPolicy
from citywatch.retention.scope import HOLDABLE, hold_cameras, hold_of
from citywatch.retention.segments import describe_os_error
from citywatch.store.audit_tables import AuditRecord
from citywatch.store.db import Database
from citywatch.store.governance_tables import AuthorisationRow
from citywatch.store.retention_tables import ExportRow, HoldRow, ReceiptRow, RecordingRow
from citywatch.store.sighting_tables import Alert, AlertConfirmationRow, AlertNoteRow, OutboxRow, Sighting
from citywatch.store.watchlist_tables import NonMatchRow

log = logging.getLogger(__name__)

NON_MATCHES = "non_matches"
"""The receipt's count of remembered non-matches (they follow DataClass.TEMPLATES)."""


@dataclass
class PurgePlan:
    """What a purge at `now` deletes: ids per class, and the files that go with them."""

    now: datetime
    sightings: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)
    templates: list[int] = field(default_factory=list)
    """Sightings whose kept template expires (the sighting itself may stay longer)."""
    recordings: list[int] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    non_matches: list[int] = field(default_factory=list)
    """Remembered non-matches whose face is past the templates' retention."""
    files: list[tuple[str, str, str]] = field(default_factory=list)
    """(class, stored path, sha256) of every file to unlink."""
    held: dict[str, int] = field(default_factory=dict)
    """Expired but kept by a hold, per class."""
    audit: AuditSpan | None = None
    """The oldest audit records, past their retention (holds do not apply to them)."""

    @property
    def counts(self) -> dict[str, int]:
        return {
            DataClass.SIGHTINGS.value: len(self.sightings),
            DataClass.ALERTS.value: len(self.alerts),
            DataClass.TEMPLATES.value: len(self.templates),
            DataClass.FOOTAGE.value: len(self.recordings),
            DataClass.EXPORTS.value: len(self.exports),
            DataClass.AUDIT.value: 0 if self.audit is None else self.audit.count,
            NON_MATCHES: len(self.non_matches),
        }

    @property
    def empty(self) -> bool:
        return not any(self.counts.values())


FileRemover = Callable[[str, str], bool]
"""Unlinks one stored file of a class (`footage`, `sightings`, `exports`); True if it existed."""


class Purger:
    """Deletes what has outlived its retention, hold by hold, with a receipt; plans what a
    purge would delete (and what releasing a hold frees); lists the receipts."""

    def __init__(
        self,
        db: Database,
        *,
        policy: RetentionPolicy,
        clock: Clock,
        audit: ActorAuditHook,
        remove_file: FileRemover,
        audit_log: AuditLog | None = None,
    ) -> None:
        """`audit_log`: prune audit records past their retention with each purge (None: keep
        them)."""
        self._db = db
        self._policy = policy
        self._clock = clock
        self._audit = audit
        self._remove_file = remove_file
        self._audit_log = audit_log

    def plan(self) -> PurgePlan:
        """What a purge now would delete (a dry run)."""
        now = self._clock()
        with self._db.session(write=False) as session:
            return self.plan_in(session, now, holds=self.holds_in(session, now))

    def purge(
        self,
        *,
        by: Actor,
        orphans: Callable[[], int] = lambda: 0,
        started_by: Mapping[str, Any] | None = None,
    ) -> ReceiptInfo | None:
        """Delete what has expired and is not held, with its receipt; None when nothing was due.

        `orphans` first removes files an earlier, interrupted purge left without their rows.
        `started_by` names the process, user and configuration that ran the purge in the audit
        prune's record, beside the retention it applied."""
        left = orphans()
        if left:
            log.info("removed %d file(s) an interrupted purge left behind", left)
        if self._db.unerased:  # deleted rows an earlier rewrite could not yet remove
            self._db.checkpoint(erase=())
        now = self._clock()
        try:
            with self._db.session() as session:
                plan = self.plan_in(session, now, holds=self.holds_in(session, now))
                if plan.empty:
                    return None
                pruned = (
                    self._prune_audit(session, now, by=by, started_by=started_by)
                    if plan.audit is not None
                    else None
                )
                self._delete(session, plan)
                details = {**_details(plan), "audit": _audit_details(pruned)}
                receipt = self.receipt_in(session, "purge", now, plan.counts, details, by=by)
        except Unavailable as exc:  # e.g. the disk full: the transaction rolled back
            raise Unavailable(f"purge not done, nothing deleted: {exc}") from exc
        except OSError as exc:  # e.g. ENOSPC from the audit log's key file
            raise Unavailable(f"purge not done, nothing deleted: {describe_os_error(exc)}") from exc
        try:
            self._db.checkpoint(erase=_touched(plan))
        except Unavailable:
            log.warning("purge committed, but the WAL checkpoint failed; the next one completes it")
        gone = sum(1 for kind, path, _sha in plan.files if self._unlink(kind, path))
        log.info("purge: %s; %d file(s) unlinked; receipt %d", plan.counts, gone, receipt.id)
        return receipt

    def receipts(
        self, *, limit: int = 100, before: int | None = None, visible_to: Actor | None = None
    ) -> list[ReceiptInfo]:
        """Up to `limit` receipts, newest first; with `before`, those with a lower id (the next page).

        With `visible_to` limited to some cameras, only the receipts within that scope
        (`receipt_within_scope`): one touching a camera outside it is left out whole, never
        shown with its reference withheld, since its counts, ids and digests tell of that
        footage too. Pages still hold `limit` receipts while more are visible."""
        shown: list[ReceiptInfo] = []
        with self._db.session(write=False) as session:
            while len(shown) < limit:
                query = select(ReceiptRow).order_by(ReceiptRow.id.desc()).limit(limit)
                if before is not None:
                    query = query.where(ReceiptRow.id < before)
                rows = session.scalars(query).all()
                infos = [receipt_info(r) for r in rows]
                if visible_to is not None and visible_to.cameras is not None:
                    infos = [i for i in infos if receipt_within_scope(session, visible_to, i)]
                shown += infos[: limit - len(shown)]
                if len(rows) < limit:
                    break
                before = rows[-1].id
        return shown

    def plan_in(self, session: Session, now: datetime, *, holds: Sequence[Hold]) -> PurgePlan:
        policy = self._policy
        plan = PurgePlan(now)
        named = _named(holds)
        # alerts: expired and not held themselves, nor through their sighting
        alert_held = or_(
            _covers(holds, Alert.camera_id, Alert.created_at, Alert.created_at),
            Alert.id.in_(named["alert"]),
            Alert.sighting_id.in_(named["sighting"]),
        )
        alert_due = Alert.created_at < policy.cutoff(DataClass.ALERTS, now)
        plan.alerts = list(
            session.scalars(select(Alert.id).where(alert_due, not_(alert_held)).order_by(Alert.id))
        )
        plan.held["alerts"] = session.scalar(_count(Alert.id, alert_due, alert_held)) or 0

        # sightings: expired, not held, and no alert of theirs stays
        held_alert_sightings = select(Alert.sighting_id).where(alert_held)
        staying_alerts = select(Alert.sighting_id).where(Alert.id.not_in(plan.alerts))
        sighting_held = or_(
            _covers(holds, Sighting.camera_id, Sighting.started_at, Sighting.ended_at),
            Sighting.id.in_(named["sighting"]),
            Sighting.id.in_(held_alert_sightings),
        )
        sighting_due = Sighting.started_at < policy.cutoff(DataClass.SIGHTINGS, now)
        rows = session.execute(
            select(Sighting.id, Sighting.crop_path, Sighting.crop_sha256)
            .where(sighting_due, not_(sighting_held), Sighting.id.not_in(staying_alerts))
            .order_by(Sighting.id)
        ).all()
        plan.sightings = [r.id for r in rows]
        plan.files += [("sightings", r.crop_path, r.crop_sha256) for r in rows]
        plan.held["sightings"] = session.scalar(_count(Sighting.id, sighting_due, sighting_held)) or 0

        # templates kept with sightings that stay, but whose template has expired
        template_due = Sighting.started_at < policy.cutoff(DataClass.TEMPLATES, now)
        plan.templates = list(
            session.scalars(
                select(Sighting.id)
                .where(template_due, Sighting.template.is_not(None), not_(sighting_held))
                .where(Sighting.id.not_in(plan.sightings))
                .order_by(Sighting.id)
            )
        )

        plan.recordings, footage, plan.held["footage"] = _due_recordings(
            session, holds, named["recording"], policy.cutoff(DataClass.FOOTAGE, now)
        )
        plan.files += footage
        plan.exports, exported = _due_exports(session, policy.cutoff(DataClass.EXPORTS, now))
        plan.files += exported
        plan.non_matches = _due_non_matches(session, policy.cutoff(DataClass.TEMPLATES, now))

        if self._audit_log is not None:
            plan.audit = self._audit_log.due(session, policy.cutoff(DataClass.AUDIT, now))
        return plan

    def _prune_audit(
        self, session: Session, now: datetime, *, by: Actor, started_by: Mapping[str, Any] | None
    ) -> AuditPrune | None:
        if self._audit_log is None:
            return None
        cutoff = self._policy.cutoff(DataClass.AUDIT, now)
        settings = {
            "audit_days": self._policy.days[DataClass.AUDIT],
            "cutoff": cutoff.astimezone(UTC).isoformat(),
            "policy_version": self._policy.version,
            "started_by": dict(started_by or {"command": "(not named)"}),
        }
        return self._audit_log.prune_in(
            session, before=cutoff, now=now, actor=by.name, role=by.role, settings=settings
        )

    def _delete(self, session: Session, plan: PurgePlan) -> None:
        if plan.alerts:
            session.execute(delete(Alert).where(Alert.id.in_(plan.alerts)))
        if plan.sightings:
            session.execute(delete(Sighting).where(Sighting.id.in_(plan.sightings)))
        if plan.templates:
            session.execute(update(Sighting).where(Sighting.id.in_(plan.templates)).values(template=None))
        if plan.recordings:
            session.execute(delete(RecordingRow).where(RecordingRow.id.in_(plan.recordings)))
        if plan.exports:
            session.execute(delete(ExportRow).where(ExportRow.id.in_(plan.exports)))
        if plan.non_matches:
            session.execute(delete(NonMatchRow).where(NonMatchRow.id.in_(plan.non_matches)))

    def holds_in(self, session: Session, now: datetime) -> list[Hold]:
        rows = session.scalars(select(HoldRow).where(HoldRow.released_at.is_(None))).all()
        return [h for h in (hold_of(r) for r in rows) if h.in_force(now)]

    def receipt_in(
        self,
        session: Session,
        kind: str,
        now: datetime,
        counts: dict[str, int],
        details: dict[str, Any],
        *,
        by: Actor,
    ) -> ReceiptInfo:
        return write_receipt(
            session,
            self._audit,
            kind,
            now,
            policy_version=self._policy.version,
            counts=counts,
            details=details,
            by=by,
        )

    def _unlink(self, kind: str, path: str) -> bool:
        try:
            return self._remove_file(kind, path)
        except Unavailable:
            log.exception("cannot unlink %s; the next purge's orphan clean-up retries", path)
            return False


def _due_recordings(
    session: Session, holds: Sequence[Hold], named: Sequence[int], cutoff: datetime
) -> tuple[list[int], list[tuple[str, str, str]], int]:
    """Recordings begun before `cutoff` that no hold keeps, their files, and how many a hold keeps."""
    recording_held = or_(
        _covers(holds, RecordingRow.camera_id, RecordingRow.started_at, RecordingRow.ended_at),
        RecordingRow.id.in_(named),
    )
    recording_due = RecordingRow.started_at < cutoff
    rows = session.execute(
        select(RecordingRow.id, RecordingRow.path, RecordingRow.sha256)
        .where(recording_due, not_(recording_held))
        .order_by(RecordingRow.id)
    ).all()
    held = session.scalar(_count(RecordingRow.id, recording_due, recording_held)) or 0
    return [r.id for r in rows], [("footage", r.path, r.sha256) for r in rows], held


def _due_exports(session: Session, cutoff: datetime) -> tuple[list[int], list[tuple[str, str, str]]]:
    """Exports made before `cutoff`, and their files (holds do not keep exports)."""
    rows = session.execute(
        select(ExportRow.id, ExportRow.path, ExportRow.sha256)
        .where(ExportRow.created_at < cutoff)
        .order_by(ExportRow.id)
    ).all()
    return [r.id for r in rows], [("exports", r.path, r.sha256) for r in rows]


def _due_non_matches(session: Session, cutoff: datetime) -> list[int]:
    """Remembered non-matches whose face was seen before `cutoff` (holds do not keep them)."""
    return list(
        session.scalars(select(NonMatchRow.id).where(NonMatchRow.seen_at < cutoff).order_by(NonMatchRow.id))
    )


def _named(holds: Iterable[Hold]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {k: [] for k in HOLDABLE}
    for h in holds:
        for kind, item_id in h.items:
            out[kind].append(item_id)
    return out


def _covers(
    holds: Iterable[Hold],
    camera: InstrumentedAttribute[str],
    start: InstrumentedAttribute[datetime],
    end: InstrumentedAttribute[datetime],
) -> ColumnElement[bool]:
    """Rows of the cameras of a window hold overlapping its window (ends included), as in
    domain.retention.Hold.covers."""
    clauses = [
        and_(camera.in_(sorted(h.cameras)), start <= h.window.end, end >= h.window.start)
        for h in holds
        if h.window is not None and h.window.start is not None and h.window.end is not None and h.cameras
    ]
    return or_(false(), *clauses)


def _count(column: InstrumentedAttribute[int], *where: ColumnElement[bool]) -> Any:
    return select(func.count(column)).where(*where)


def _details(plan: PurgePlan) -> dict[str, Any]:
    def span(ids: list[int]) -> list[int] | None:
        return [min(ids), max(ids)] if ids else None

    return {
        "id_ranges": {
            "sightings": span(plan.sightings),
            "alerts": span(plan.alerts),
            "templates": span(plan.templates),
            "footage": span(plan.recordings),
            "exports": span(plan.exports),
            NON_MATCHES: span(plan.non_matches),
        },
        "ids": {
            "sightings": plan.sightings,
            "alerts": plan.alerts,
            "templates": plan.templates,
            "footage": plan.recordings,
            "exports": plan.exports,
            NON_MATCHES: plan.non_matches,
        },
        "file_sha256": {
            kind: [sha for k, _p, sha in plan.files if k == kind]
            for kind in ("sightings", "footage", "exports")
        },
        "held": plan.held,
        "files_sha256_digest": hashlib.sha256(
            "".join(sha for _k, _p, sha in plan.files).encode()
        ).hexdigest(),
    }


def _audit_details(pruned: AuditPrune | None) -> dict[str, Any] | None:
    """The audit records a purge pruned, and the signed anchor the chain now starts from."""
    if pruned is None:
        return None
    span, anchor = pruned.anchor.pruned, pruned.anchor.anchor
    return {
        "seq_range": [span.first_seq, span.last_seq],
        "count": span.count,
        "from": span.first_at,
        "until": span.last_at,
        "anchor": {"seq": anchor.seq, "hash": anchor.hash, "signature": anchor.signature},
        "prune_record": pruned.record.seq,
    }


def receipt_within_scope(session: Session, actor: Actor, receipt: ReceiptInfo) -> bool:
    """Whether `actor` may see `receipt`, by `within_scope` on the cameras it concerns: a hold
    release, its hold's (window and named items, as `holds(visible_to=)` judges the hold;
    a hold gone, or whose items can no longer be told, is out of reach); a closed
    authorisation, the cameras it named; any other receipt, the cameras its details name.
    A receipt about no camera at all (a purge counts, ranges and hashes what it deleted
    across every camera without naming one; an order's is about a person) is within
    everyone's reach. An unscoped actor sees every receipt."""
    if actor.cameras is None:
        return True
    cameras: Iterable[str] | None
    if receipt.kind == "hold_release":
        hold_id = receipt.details.get("hold")
        row = session.get(HoldRow, hold_id) if isinstance(hold_id, int) else None
        cameras = None if row is None else hold_cameras(session, hold_of(row))
    elif receipt.kind == "authorisation":
        reference = receipt.policy_version.removeprefix("authorisation:")
        named = session.scalar(
            select(AuthorisationRow.cameras).where(AuthorisationRow.reference == reference)
        )
        cameras = None if named is None else json.loads(named)
    elif "cameras" in receipt.details:
        cameras = receipt.details["cameras"]
    else:
        return True
    return within_scope(actor, cameras)


def _touched(plan: PurgePlan) -> set[str]:
    """The tables a purge deleted from (or cleared templates in): those to rewrite."""
    alerts = bool(plan.alerts or plan.sightings)  # a sighting's alerts go with it (cascade)
    touched = {
        Alert.__tablename__: alerts,
        AlertConfirmationRow.__tablename__: alerts,
        AlertNoteRow.__tablename__: alerts,
        OutboxRow.__tablename__: alerts,
        Sighting.__tablename__: plan.sightings or plan.templates,
        RecordingRow.__tablename__: plan.recordings,
        ExportRow.__tablename__: plan.exports,
        NonMatchRow.__tablename__: plan.non_matches,
        AuditRecord.__tablename__: plan.audit is not None,
    }
    return {table for table, any_rows in touched.items() if any_rows}
