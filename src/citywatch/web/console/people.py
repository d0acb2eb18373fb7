"""The people page: watchlists, enrolled persons a page at a time, enrolment by upload, and
the changes that wait for a second person. A person's reference image is shown only through
`GET /api/persons/{id}/reference`, which audits every read; the page itself holds names,
never faces."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query, Request, Response

from citywatch.domain.access import Permission, can
from citywatch.domain.errors import NotFound
from citywatch.domain.records import ChangeInfo, ChangeStatus
from citywatch.domain.watchlists import WatchlistCategory
from citywatch.runtime.build import Runtime
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.console.render import add_page, render

PERSONS_PAGE = 50


def add_routes(app: FastAPI) -> None:

    add_page(app, "/console/people", people_page)


def people_page(
    request: Request,
    caller: Annotated[Caller, requires(Permission.WATCHLISTS_READ)],
    after: Annotated[int | None, Query(ge=0, description="Persons with an id above this one.")] = None,
    watchlist: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Response:
    rt = runtime_of(request)
    actor = caller.actor
    watchlists = rt.watchlists.list_watchlists()
    persons = rt.watchlists.persons_page(PERSONS_PAGE, after_id=after, watchlist_name=watchlist)
    pending = list(reversed(rt.changes.list_changes(ChangeStatus.PENDING)))  # newest first
    return render(
        request,
        "people.html",
        caller,
        watchlists=watchlists,
        sizes=rt.watchlists.watchlist_sizes(),
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


def _person_named(rt: Runtime, change: ChangeInfo) -> str:
    """Whom a change on `person:<id>` is about, by name (blank for other changes)."""
    kind, _, key = change.object.partition(":")
    if kind != "person" or not key.isdigit():
        return ""
    try:
        return rt.watchlists.get_person(int(key)).display_name
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
