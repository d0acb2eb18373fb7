"""Cameras as records: list, get, add, change and remove the cameras of the city, each change
permission-checked (`cameras.manage`, within the actor's camera scope) and audited in its own
transaction; the runtime reads the cameras it runs here, and a running city picks a change up
(`runtime.camera_sync`).

How the configuration file and the records combine. The file's cameras are read from the file
at every start and are never stored: they are `from_config`, version 0, and are changed only
in the file (a change or removal through the records is refused, Conflict). Records added
through the API or the command line live only in the database. A camera id in both: the file
wins, and adding such a record is refused. Why the file wins rather than refusing to start: the
file is what a deployer declares and reviews, and a city must start as declared; a record that
the file later shadows stays stored, unused, and is named (`shadowed`) so that it can be
removed. Why the file's cameras are not imported into the table: a read would then write (and
audit), and the processes of a city started with different files would undo each other's
imports; read at each start, the file stays the one place its cameras are declared.

A camera removed keeps its footage, sightings and alerts: they stay until their retention ends,
found by the camera's id (`Runtime.known_cameras` knows it while footage is kept), and the same
id added again joins them."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.audit.hooks import ActorAuditHook
from citywatch.cameras.records import (
    CONFIGURATION,
    CameraChange,
    CameraRecord,
    RemovedCamera,
    check_url,
    new_camera,
    shown_url,
    validation_problems,
)
from citywatch.config.ingest import CAMERA_ID_PATTERN, CameraSettings, SourceSettings
from citywatch.domain.access import Permission, can, scope_refusal
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import Clock
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, OutOfScope, PermissionDenied
from citywatch.domain.policy import ProcessingMode
from citywatch.store.camera_tables import CameraRow
from citywatch.store.db import Database

log = logging.getLogger(__name__)

FIELDS = ("name", "url", "mode", "location", "source")
"""A record's fields as a change names them."""


class CameraService:
    """The cameras of the city: the configuration file's (`configured`) and the records'."""

    def __init__(
        self,
        db: Database,
        *,
        configured: Sequence[CameraSettings],
        clock: Clock,
        audit: ActorAuditHook,
        has_footage: Callable[[str], bool],
    ) -> None:
        self._db = db
        self._configured = {c.id: c for c in configured}
        self._clock = clock
        self._audit = audit
        self._has_footage = has_footage
        """Whether footage of a camera is still kept (said when it is removed)."""

    # --- reads --------------------------------------------------------------------------

    def cameras(self, *, seen_by: Actor | None = None) -> list[CameraRecord]:
        """Every camera the city runs: the file's in its order, then the records in the order
        they were added, a record the file shadows left out; with `seen_by`, those within its
        camera scope only."""
        found = [_configured(c) for c in self._configured.values()]
        found += [r for r in self._records() if r.id not in self._configured]
        return [r for r in found if seen_by is None or can(seen_by, Permission.POLICY_READ, r.id)]

    def get(self, camera_id: str, *, seen_by: Actor | None = None) -> CameraRecord:
        """One camera (NotFound: none, or one outside `seen_by`'s scope)."""
        found = [r for r in self.cameras(seen_by=seen_by) if r.id == camera_id]
        if not found:
            raise NotFound(f"no camera {camera_id!r}")
        return found[0]

    def revision(self) -> tuple[tuple[int, int], ...]:
        """Each record's row and version: it differs from an earlier answer exactly when a
        record was added, changed or removed since (cheap to ask every few seconds)."""
        with self._db.session(write=False) as session:
            rows = session.execute(select(CameraRow.id, CameraRow.version).order_by(CameraRow.id))
            return tuple((key, version) for key, version in rows)

    def shadowed(self) -> list[str]:
        """The records the configuration file shadows (a camera of the same id): stored but
        unused while the file names them."""
        with self._db.session(write=False) as session:
            ids = session.scalars(select(CameraRow.camera_id).order_by(CameraRow.id))
            return [i for i in ids if i in self._configured]

    # --- changes ------------------------------------------------------------------------

    def add(self, camera: CameraSettings, *, by: Actor) -> CameraRecord:
        """Add a camera record (`camera.add`); a running city starts it within seconds."""
        self._require(by, camera.id, Action.CAMERA_ADD)
        check_url(camera.url)
        self._refuse_configured(camera.id, "added")
        now = self._clock()
        with self._db.session() as session:
            if _row(session, camera.id) is not None:
                raise Conflict(f"camera {camera.id!r} exists already (change it, or remove it first)")
            row = CameraRow(camera_id=camera.id, version=1, created_by=by.name, created_at=now)
            _fill(row, camera)
            row.changed_by, row.changed_at = by.name, now
            session.add(row)
            session.flush()
            params: dict[str, Any] = {"source": shown_url(camera.url), "mode": str(camera.mode), "version": 1}
            if camera.name:
                params["name"] = camera.name
            if camera.location is not None:
                params["location"] = list(camera.location)
            self._audit(session, by, AuditEvent(Action.CAMERA_ADD, f"camera:{camera.id}", params=params))
            return _record(row, camera)

    def change(
        self, camera_id: str, change: CameraChange, *, by: Actor, version: int | None = None
    ) -> CameraRecord:
        """Change a camera record (`camera.change`, its version one more); `version`: the one
        the change was made against (Conflict when another change came first). A change that
        changes nothing returns the record as it is, unaudited."""
        _check_id(camera_id)
        self._require(by, camera_id, Action.CAMERA_CHANGE)
        self._refuse_configured(camera_id, "changed")
        with self._db.session() as session:
            row = _existing(session, camera_id, version)
            old = _settings(row)
            new = _changed(old, change)
            fields = [f for f in FIELDS if getattr(old, f) != getattr(new, f)]
            if not fields:
                return _record(row, old)
            if "url" in fields:
                check_url(new.url)
            _fill(row, new)
            row.version += 1
            row.changed_by, row.changed_at = by.name, self._clock()
            params = {
                "fields": fields,
                "from": {f: _shown(old, f) for f in fields},
                "to": {f: _shown(new, f) for f in fields},
                "version": row.version,
            }
            self._audit(session, by, AuditEvent(Action.CAMERA_CHANGE, f"camera:{camera_id}", params=params))
            return _record(row, new)

    def remove(self, camera_id: str, *, by: Actor, version: int | None = None) -> RemovedCamera:
        """Remove a camera record (`camera.remove`); a running city stops it within seconds.
        Its footage, sightings and alerts stay until their retention ends."""
        _check_id(camera_id)
        self._require(by, camera_id, Action.CAMERA_REMOVE)
        self._refuse_configured(camera_id, "removed")
        footage_kept = self._has_footage(camera_id)
        with self._db.session() as session:
            row = _existing(session, camera_id, version)
            record = _record(row, _settings(row))
            session.delete(row)
            params = {
                "source": shown_url(row.url),
                "mode": row.mode,
                "version": row.version,
                "footage_kept": footage_kept,
            }
            self._audit(session, by, AuditEvent(Action.CAMERA_REMOVE, f"camera:{camera_id}", params=params))
        return RemovedCamera(record, footage_kept)

    # --- rules --------------------------------------------------------------------------

    def _require(self, by: Actor, camera_id: str, action: Action) -> None:
        """Refuse, audited (`access.refused` naming the camera), an actor whose role may not
        manage cameras (PermissionDenied) or a camera outside its scope: an addition is refused
        saying so (PermissionDenied), a change or removal as a camera that does not exist
        (OutOfScope), so that a scoped admin cannot tell what exists beyond their cameras."""
        permission = Permission.CAMERAS_MANAGE
        if can(by, permission, camera_id):
            return
        params = {"permission": str(permission), "action": str(action), "cameras": [camera_id]}
        with self._db.session() as session:
            self._audit(session, by, AuditEvent(Action.ACCESS_REFUSED, f"camera:{camera_id}", params=params))
        if not can(by, permission):
            raise PermissionDenied(f"{by.name} ({by.role}) may not manage cameras: it needs {permission}")
        if action is Action.CAMERA_ADD:
            raise PermissionDenied(scope_refusal(by, "adding a camera", [camera_id]))
        raise OutOfScope(f"no camera record {camera_id!r}")

    def _refuse_configured(self, camera_id: str, verb: str) -> None:
        if camera_id in self._configured:
            raise Conflict(
                f"camera {camera_id!r} is declared in the configuration file, which wins for its "
                f"cameras: it is {verb} there, not as a record"
            )

    def _records(self) -> list[CameraRecord]:
        with self._db.session(write=False) as session:
            rows = session.scalars(select(CameraRow).order_by(CameraRow.id)).all()
        found = []
        for row in rows:
            try:
                found.append(_record(row, _settings(row)))
            except InvalidInput as exc:  # stored by an older release under looser rules
                log.error("camera record %s is left out: %s", row.camera_id, exc)
        return found


def _check_id(camera_id: str) -> None:
    """A camera id as the configuration file's are (no `..`, no `/`: it names folders)."""
    if not re.fullmatch(CAMERA_ID_PATTERN, camera_id):
        raise InvalidInput("a camera id is 1 to 64 letters, digits, _ . -, a letter or digit first")


def _configured(camera: CameraSettings) -> CameraRecord:
    by = CONFIGURATION
    return CameraRecord(camera, from_config=True, version=0, created_by=by, changed_by=by)


def _row(session: Session, camera_id: str) -> CameraRow | None:
    return session.scalars(select(CameraRow).where(CameraRow.camera_id == camera_id)).one_or_none()


def _existing(session: Session, camera_id: str, version: int | None) -> CameraRow:
    row = _row(session, camera_id)
    if row is None:
        raise NotFound(f"no camera record {camera_id!r}")
    if version is not None and version != row.version:
        raise Conflict(
            f"camera {camera_id!r} is at version {row.version}, not {version}: it changed meanwhile "
            "(read it again)"
        )
    return row


def _fill(row: CameraRow, camera: CameraSettings) -> None:
    row.name, row.url, row.mode = camera.name, camera.url, camera.mode.value
    row.latitude, row.longitude = camera.location if camera.location is not None else (None, None)
    row.source = camera.source.model_dump_json()


def _settings(row: CameraRow) -> CameraSettings:
    location = None if row.latitude is None or row.longitude is None else (row.latitude, row.longitude)
    try:
        return CameraSettings(
            id=row.camera_id,
            name=row.name,
            url=row.url,
            mode=ProcessingMode(row.mode),
            location=location,
            source=SourceSettings.model_validate_json(row.source),
        )
    except ValidationError as exc:
        raise InvalidInput(validation_problems(exc)) from None


def _record(row: CameraRow, settings: CameraSettings) -> CameraRecord:
    return CameraRecord(
        settings,
        from_config=False,
        version=row.version,
        created_by=row.created_by,
        changed_by=row.changed_by,
        created_at=row.created_at,
        changed_at=row.changed_at,
        key=row.id,
    )


def _changed(old: CameraSettings, change: CameraChange) -> CameraSettings:
    """`old` with `change` applied, validated as the configuration file's cameras are."""
    data = old.model_dump()
    for field in ("name", "url", "mode", "location"):
        value = getattr(change, field)
        if value is not None:
            data[field] = value
    if change.clear_location:
        if change.location is not None:
            raise InvalidInput("give a location or clear it, not both")
        data["location"] = None
    if change.source:
        data["source"] = {**data["source"], **change.source}
    return new_camera(data)


def _shown(camera: CameraSettings, field: str) -> object:
    """A field's value as an audit record holds it (JSON; the source without credentials)."""
    value = getattr(camera, field)
    if field == "url":
        return shown_url(camera.url)
    if field == "mode":
        return str(value)
    if field == "location":
        return None if value is None else list(value)
    if field == "source":
        return json.loads(camera.source.model_dump_json())
    return value
