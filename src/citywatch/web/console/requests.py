"""Request pages: law-enforcement and subject-access requests with where each stands (and
whether it is overdue), the decisions the two-person rule lets the caller take, and the
export packages that fulfil them, with their verification.

Pages read through the request and export stores, as the API's routes do; decisions,
downloads and checks go through the API's routes from the page's script. A user limited to
some cameras sees only the requests and exports whose cameras all lie within them, and is
offered only those cameras (the rule is the stores': citywatch.domain.access.within_scope)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response

from citywatch.audit.log import AuditLog
from citywatch.audit.two_person import same_person
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, Actor
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.requests.export_store import ExportInfo, exports_page
from citywatch.requests.records import RequestInfo
from citywatch.transparency.report import OPEN_REQUEST_STATUSES
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import Limit
from citywatch.web.api.schemas.common import PAGE_DEFAULT
from citywatch.web.console.render import add_page, render

VERBS: dict[RequestStatus, tuple[str, ...]] = {
    RequestStatus.FILED: ("review", "approve", "refuse"),
    RequestStatus.IN_REVIEW: ("approve", "refuse"),
    RequestStatus.REFUSED: ("close",),
    RequestStatus.FULFILLED: ("close",),
}
"""What a decider can do to a request in each state (the store's moves, less `fulfil`,
which approval does)."""


def add_routes(app: FastAPI) -> None:

    add_page(app, "/console/requests", requests_page)
    add_page(app, "/console/exports", exports_list_page)


# requests


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A request as the page lists it: the record, whether it is late, and what the caller
    may do to it now (nothing, with the reason, when they filed it)."""

    info: RequestInfo
    overdue: bool
    actions: tuple[str, ...]
    why_not: str


def requests_page(
    request: Request,
    caller: Annotated[Caller, requires(Permission.REQUESTS_READ)],
    *,
    status: Annotated[RequestStatus | None, Query()] = None,
    kind: Annotated[RequestKind | None, Query()] = None,
    limit: Limit = PAGE_DEFAULT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Requests, open ones first then newest, filtered by status and kind; the form that files
    a law-enforcement request for a caller who may. Within the caller's camera scope."""
    rt = runtime_of(request)
    now = datetime.now(UTC)
    infos = [i for i in rt.requests.list(status, visible_to=caller.actor) if kind is None or i.kind is kind]
    rows = [_row(info, caller.actor, now) for info in infos]
    rows.sort(key=lambda r: (r.info.status not in OPEN_REQUEST_STATUSES, -r.info.id))
    return render(
        request,
        "requests.html",
        caller,
        rows=rows[offset : offset + limit],
        total=len(rows),
        overdue=sum(1 for r in rows if r.overdue),
        offset=offset,
        limit=limit,
        status=status,
        kind=kind,
        statuses=list(RequestStatus),
        kinds=list(RequestKind),
        can_file=can(caller.actor, Permission.REQUESTS_FILE),
        can_decide=can(caller.actor, Permission.REQUESTS_DECIDE),
        cameras=[c.id for c in rt.cameras() if can(caller.actor, Permission.REQUESTS_FILE, c.id)],
    )


def _row(info: RequestInfo, actor: Actor, now: datetime) -> RequestRow:
    overdue = info.status in OPEN_REQUEST_STATUSES and info.deadline < now
    verbs = VERBS.get(info.status, ())
    if not verbs or not can(actor, Permission.REQUESTS_DECIDE):
        return RequestRow(info, overdue, (), "")
    if same_person(info.filed_by, actor.name):
        return RequestRow(info, overdue, (), "you filed it: another supervisor decides")
    return RequestRow(info, overdue, verbs, "")


# exports


@dataclass(frozen=True, slots=True)
class ExportRow:
    """An export package as the page lists it, with the last check of it, if any."""

    info: ExportInfo
    checked_at: str | None
    checked_ok: bool | None
    problem: str


def exports_list_page(
    request: Request,
    caller: Annotated[Caller, requires(Permission.REQUESTS_READ)],
    limit: Limit = PAGE_DEFAULT,
    before: Annotated[int | None, Query(ge=1, description="Exports below this id.")] = None,
) -> Response:
    """Export packages, newest first: the request each fulfils, when, its size and digest,
    and the last verification (read from the audit log, where each check is recorded).
    Within the caller's camera scope."""
    rt = runtime_of(request)
    infos = exports_page(rt.database, limit=limit, before_id=before, visible_to=caller.actor)
    rows = [_export_row(rt.audit_log, info) for info in infos]
    return render(
        request,
        "exports.html",
        caller,
        rows=rows,
        before=before,
        next_before=infos[-1].id if len(infos) == limit else None,
        can_verify=can(caller.actor, Permission.EXPORTS_VERIFY),
        can_download=can(caller.actor, Permission.REQUESTS_DECIDE),
    )


def _export_row(log: AuditLog, info: ExportInfo) -> ExportRow:
    checks = log.page(limit=1, action=Action.EXPORT_VERIFY, object=f"export:{info.id}")
    if not checks:
        return ExportRow(info, None, None, "")
    last = checks[0]
    return ExportRow(info, last.at, bool(last.params.get("ok")), str(last.params.get("problem") or ""))
