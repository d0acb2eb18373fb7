"""The people page: watchlists, enrolled persons a page at a time, enrolment by upload, and
the changes that wait for a second person. A person's reference image is shown only through
`reference_image`, which audits every read; the page itself holds names, never faces."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request, Response

from citywatch.api.auth import Caller, requires, runtime_of
from citywatch.audit.access import Permission, can
from citywatch.console.render import render
from citywatch.domain.audit import AuditEvent
from citywatch.domain.errors import NotFound
from citywatch.domain.watchlists import WatchlistCategory
from citywatch.runtime.build import Runtime
from citywatch.store.records import ChangeInfo, ChangeStatus

PERSONS_PAGE = 50
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def add_routes(app: FastAPI) -> None:
    from citywatch.console.pages import add_page  # noqa: PLC0415 (pages imports this module)

    add_page(app, "/console/people", people_page)
    add_page(app, "/console/people/{person_id}/reference", reference_image)


def people_page(
    request: Request,
    caller: Annotated[Caller, requires(Permission.WATCHLISTS_READ)],
    after: Annotated[int | None, Query(ge=0, description="Persons with an id above this one.")] = None,
    watchlist: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Response:
    rt = runtime_of(request)
    actor = caller.actor
    watchlists = rt.store.list_watchlists()
    persons = rt.store.persons_page(PERSONS_PAGE, after_id=after, watchlist_name=watchlist)
    pending = list(reversed(rt.changes.list_changes(ChangeStatus.PENDING)))  # newest first
    return render(
        request,
        "people.html",
        caller,
        watchlists=watchlists,
        sizes=rt.store.watchlist_sizes(),
        defaults=rt.settings.matching,
        persons=persons,
        watchlist=watchlist or "",
        after=after,
        next_after=persons[-1].id if len(persons) == PERSONS_PAGE else None,
        changes=[(c, _person_named(rt, c), describe_change(c)) for c in pending],
        categories=list(WatchlistCategory),
        may_enrol=can(actor, Permission.WATCHLISTS_MANAGE),
        may_approve=can(actor, Permission.CHANGES_APPROVE),
    )


def reference_image(
    request: Request,
    caller: Annotated[Caller, requires(Permission.WATCHLISTS_READ)],
    person_id: Annotated[int, Path(ge=1, description="The person's id.")],
    index: Annotated[int, Query(ge=0, le=100, description="Which reference image, oldest first.")] = 0,
) -> Response:
    """A person's reference image: biometric data, so every read is audited
    (`person.reference_view`, with the image's SHA-256) before it is sent."""
    rt = runtime_of(request)
    references = rt.store.references(person_id)
    if index >= len(references):
        raise NotFound(f"person {person_id} has {len(references)} reference image(s)")
    ref = references[index]
    data = rt.store.blobs.read(ref.blob_path)
    event = AuditEvent(
        "person.reference_view",
        f"person:{person_id}",
        legal_basis=ref.legal_basis,
        params={"reference_id": ref.id, "sha256": ref.sha256},
        result_count=1,
    )
    rt.audit(event, actor=caller.actor)
    media_type = IMAGE_TYPES.get(PurePosixPath(ref.blob_path).suffix.lower(), "application/octet-stream")
    return Response(data, media_type=media_type, headers={"Cache-Control": "no-store"})


def _person_named(rt: Runtime, change: ChangeInfo) -> str:
    """Whom a change on `person:<id>` is about, by name (blank for other changes)."""
    kind, _, key = change.object.partition(":")
    if kind != "person" or not key.isdigit():
        return ""
    try:
        return rt.store.get_person(int(key)).display_name
    except NotFound:
        return "(removed)"


def describe_change(change: ChangeInfo) -> str:
    """What a pending change does, in a line (its params hold no biometric data)."""
    shown = {k: v for k, v in change.params.items() if v not in (None, "", [], {})}
    return ", ".join(f"{k}: {_value(v)}" for k, v in shown.items())


def _value(value: object) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)
