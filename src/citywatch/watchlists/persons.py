"""Enrolled persons: changing one (name and notes at once; a move onto another watchlist adds
a member to it, so it is proposed and waits for a second person: the two-person rule), and
reading their reference images, every read audited."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from citywatch.audit.hooks import Audit
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import NotFound
from citywatch.domain.records import ChangeInfo, PersonInfo
from citywatch.store.blobs import BlobStore
from citywatch.watchlists.service import WatchlistService

IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
"""What enrolment stores (api.people checks uploads are JPEG or PNG)."""


class MoveProposals(Protocol):
    """Where a move onto another watchlist is proposed to a second person (changes.service)."""

    def move_person(self, person_id: int, watchlist: str, actor: Actor) -> ChangeInfo | None: ...


@dataclass(frozen=True, slots=True)
class PersonUpdate:
    person: PersonInfo
    """The person now: a proposed move has not happened yet."""
    move: ChangeInfo | None
    """The move onto another watchlist waiting for a second person; None when none was asked
    (or the person is on that watchlist already)."""


def update_person(
    store: WatchlistService,
    changes: MoveProposals,
    person_id: int,
    *,
    name: str | None = None,
    notes: str | None = None,
    watchlist: str | None = None,
    by: Actor,
) -> PersonUpdate:
    """Change a person's name or notes (at once, audited by `store`'s actor) and propose a
    move onto `watchlist` (as `by`). The move is proposed first: an unknown watchlist refuses
    the whole update before anything changes."""
    move = None if watchlist is None else changes.move_person(person_id, watchlist, by)
    if name is not None or notes is not None or watchlist is None:
        person = store.update_person(person_id, display_name=name, notes=notes)
    else:
        person = store.get_person(person_id)
    return PersonUpdate(person, move)


@dataclass(frozen=True, slots=True)
class ReferenceImage:
    data: bytes
    media_type: str


def view_reference(
    watchlists: WatchlistService, blobs: BlobStore, audit: Audit, person_id: int, index: int, *, by: Actor
) -> ReferenceImage:
    """A person's `index`th reference image (oldest first, read from `blobs`): biometric data,
    so the read is audited (`person.reference_view` as `by`, with the image's SHA-256 and
    legal basis) before it is returned. NotFound for an unknown person or an index past their
    images."""
    references = watchlists.references(person_id)
    if index >= len(references):
        raise NotFound(f"person {person_id} has {len(references)} reference image(s)")
    ref = references[index]
    data = blobs.read(ref.blob_path)
    event = AuditEvent(
        Action.PERSON_REFERENCE_VIEW,
        f"person:{person_id}",
        legal_basis=ref.legal_basis,
        params={"reference_id": ref.id, "sha256": ref.sha256},
        result_count=1,
    )
    audit(event, by)
    media_type = IMAGE_TYPES.get(PurePosixPath(ref.blob_path).suffix.lower(), "application/octet-stream")
    return ReferenceImage(data, media_type)
