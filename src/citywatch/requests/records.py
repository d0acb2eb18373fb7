"""Requests as records: a new one as filed, one as stored, what a subject-access search found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from citywatch.domain.audit import Actor, AuditEvent
from citywatch.domain.policy import Window
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.store.retention_tables import RecordingRow
from citywatch.store.sighting_tables import Sighting

_HELD_KINDS: dict[str, Any] = {
    "sighting": Sighting,
    "recording": RecordingRow,
}


@dataclass(frozen=True, slots=True)
class NewRequest:
    kind: RequestKind
    reference: str
    """The agency's case reference (law enforcement) or the public request's own."""
    requester: str
    contact: str
    cameras: list[str]
    window: Window


@dataclass(frozen=True, slots=True)
class SubjectFindings:
    """What the system's search for a subject-access requester found, to hold and audit."""

    items: Sequence[tuple[str, int]]
    """Sightings and recordings found, named in the hold (which covers the request's whole
    scope whatever was found)."""
    photo_path: str
    """The requester's photo in the blob store, kept until the request is answered."""
    searched_by: Actor
    search: AuditEvent


@dataclass(frozen=True, slots=True)
class RequestInfo:
    id: int
    kind: RequestKind
    status: RequestStatus
    reference: str
    requester: str
    contact: str
    cameras: list[str]
    window: Window
    deadline: datetime
    created_at: datetime
    filed_by: str
    decided_by: str | None
    refusal_reason: str | None
    hold_id: int | None
    export_id: int | None
    photo_path: str | None
    """A subject-access requester's photo (blob store), until the request is answered."""
