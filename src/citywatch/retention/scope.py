"""Which cameras a hold touches (those of its window and of the items it names), and the
refusal of what lies beyond an actor's camera scope, audited as `access.refused`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.audit.hooks import ActorAuditHook
from citywatch.domain.access import Permission, scope_refusal, within_scope
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import OutOfScope, PermissionDenied
from citywatch.domain.policy import Window
from citywatch.domain.retention import Hold
from citywatch.store.retention_tables import HoldRow, RecordingRow
from citywatch.store.sighting_tables import Alert, Sighting

HOLDABLE = ("sighting", "alert", "recording")
"""The kinds of item a hold can name."""
ITEM_MODEL: dict[str, Any] = {"sighting": Sighting, "alert": Alert, "recording": RecordingRow}


def hold_of(row: HoldRow) -> Hold:
    """The hold a row records, as the retention rules read it."""
    window = None if row.starts_at is None else Window(row.starts_at, row.ends_at)
    return Hold(
        id=row.id,
        reference=row.reference,
        cameras=frozenset(json.loads(row.cameras)),
        window=window,
        items=frozenset((k, int(i)) for k, i in json.loads(row.items)),
        expires_at=row.expires_at,
        released_at=row.released_at,
    )


def refused_outside_scope(
    session: Session,
    audit: ActorAuditHook,
    by: Actor,
    permission: Permission,
    *,
    cameras: Iterable[str] | None,
    what: str,
    audit_object: str,
    action: Action,
    unseen: str | None = None,
) -> PermissionDenied | OutOfScope | None:
    """None when a record touching `cameras` lies within `by`'s camera scope
    (citywatch.domain.access.within_scope; None: cameras unknown). Otherwise the refusal,
    audited in `session` as `access.refused` with the cameras outside the scope and the
    action tried (nothing else of the record): the caller lets the session commit, then
    raises it, so the refusal's record survives the refusal. With `unseen` (the message a
    record that does not exist gets), the refusal is OutOfScope with those words: a record
    asked for by its id is answered as one that does not exist. Without it (cameras the
    caller named, e.g. filing a request), PermissionDenied says what is outside."""
    if within_scope(by, cameras):
        return None
    outside = sorted(set(cameras or ()) - (by.cameras or frozenset()))
    params = {"permission": str(permission), "cameras": outside, "action": action}
    audit(session, by, AuditEvent(Action.ACCESS_REFUSED, audit_object, params=params))
    if unseen is not None:
        return OutOfScope(unseen)
    return PermissionDenied(scope_refusal(by, what, cameras))


def hold_cameras(session: Session, hold: Hold) -> frozenset[str] | None:
    """The cameras a hold touches: its window's and its named items'. None when a named item
    is gone (a released hold's items may be purged): its camera can no longer be told."""
    items = item_cameras(session, hold.items)
    return None if items is None else hold.cameras | items


def items_with_cameras(
    session: Session, items: Iterable[tuple[str, int]]
) -> list[tuple[str, int, str | None]]:
    """Each named item (sorted, once) with its camera; None for one that does not exist."""
    wanted = sorted(set(items))
    cameras: dict[tuple[str, int], str] = {}
    for kind in {k for k, _ in wanted}:
        model = ITEM_MODEL.get(kind)
        if model is None:  # not a holdable kind: nothing of it exists
            continue
        ids = [i for k, i in wanted if k == kind]
        for chunk in range(0, len(ids), 500):
            rows = session.execute(
                select(model.id, model.camera_id).where(model.id.in_(ids[chunk : chunk + 500]))
            ).all()
            cameras.update(((kind, item_id), camera) for item_id, camera in rows)
    return [(kind, item_id, cameras.get((kind, item_id))) for kind, item_id in wanted]


def item_cameras(session: Session, items: Iterable[tuple[str, int]]) -> frozenset[str] | None:
    """The cameras of named sightings, alerts and recordings; None when one is missing."""
    cameras = [camera for _, _, camera in items_with_cameras(session, items)]
    return None if None in cameras else frozenset(c for c in cameras if c is not None)
