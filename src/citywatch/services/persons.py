"""Changing an enrolled person: name and notes at once; a move onto another watchlist adds a
member to it, so it is proposed and waits for a second person (two-person rule)."""

from __future__ import annotations

from dataclasses import dataclass

from citywatch.domain.audit import Actor
from citywatch.store.changes import ChangeStore
from citywatch.store.facade import MetaStore
from citywatch.store.records import ChangeInfo, PersonInfo


@dataclass(frozen=True, slots=True)
class PersonUpdate:
    person: PersonInfo
    """The person now: a proposed move has not happened yet."""
    move: ChangeInfo | None
    """The move onto another watchlist waiting for a second person; None when none was asked
    (or the person is on that watchlist already)."""


def update_person(
    store: MetaStore,
    changes: ChangeStore,
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
