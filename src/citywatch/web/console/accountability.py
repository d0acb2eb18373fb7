"""Accountability pages: legal holds (place, extend, release), deletion receipts, and the
audit log with its filters and chain verification.

Pages read through the same stores as the API routes (`api.accountability`); every change
goes through those routes from the page's script, so it is authorised and audited once. A
user limited to some cameras sees, and is offered, only holds and cameras within them (the
rule is the store's: citywatch.domain.access.within_scope)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Response

from citywatch.audit.chain import AuditEntry
from citywatch.audit.receipts import ReceiptInfo
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import filter_problem
from citywatch.domain.errors import InvalidInput
from citywatch.retention.hold_records import HoldInfo
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import Limit
from citywatch.web.api.schemas.common import PAGE_DEFAULT
from citywatch.web.console.render import add_page, render

Before = Annotated[int | None, Query(ge=1, description="Rows below this id or seq (the next page).")]
Filter = Annotated[str, Query(max_length=300)]


def add_routes(app: FastAPI) -> None:

    add_page(app, "/console/holds", holds_page)
    add_page(app, "/console/receipts", receipts_page)
    add_page(app, "/console/audit", audit_page)


# holds and receipts


@dataclass(frozen=True, slots=True)
class HoldRow:
    """One hold as the page lists it: the record and where it stands now."""

    info: HoldInfo
    state: str
    """`in force`, `released` or `expired`."""

    @property
    def id(self) -> int:
        return self.info.hold.id


def holds_page(
    request: Request,
    caller: Annotated[Caller, requires(Permission.HOLDS_MANAGE)],
    show: Annotated[str, Query(pattern="^(in_force|all)$")] = "in_force",
) -> Response:
    """Holds in force (or every hold, released and expired too), the form that places one
    and, per hold, extend and release; for a user limited to some cameras, only the holds
    wholly within them, and only those cameras in the form."""
    rt = runtime_of(request)
    infos = rt.retention.holds(include_released=show == "all", visible_to=caller.actor)
    now = datetime.now(UTC)
    rows = [HoldRow(info, _hold_state(info, now)) for info in infos]
    rows.sort(key=lambda r: (r.state != "in force", -r.id))
    return render(
        request,
        "holds.html",
        caller,
        rows=rows,
        show=show,
        can_read_receipts=can(caller.actor, Permission.RECEIPTS_READ),
        cameras=[c.id for c in rt.cameras() if can(caller.actor, Permission.HOLDS_MANAGE, c.id)],
    )


def _hold_state(info: HoldInfo, now: datetime) -> str:
    hold = info.hold
    if hold.released_at is not None:
        return "released"
    return "in force" if hold.in_force(now) else "expired"


def receipts_page(
    request: Request,
    caller: Annotated[Caller, requires(Permission.RECEIPTS_READ)],
    limit: Limit = PAGE_DEFAULT,
    before: Before = None,
) -> Response:
    """Deletion receipts, newest first: what each purge, hold release or closed authorisation
    deleted, with the id ranges and hashes that prove it (never the content). For a user
    limited to some cameras, only the receipts within them (a hold release or a closed
    authorisation touching a camera outside the scope is left out whole)."""
    rows: list[ReceiptInfo] = runtime_of(request).purger.receipts(
        limit=limit, before=before, visible_to=caller.actor
    )
    return render(
        request,
        "receipts.html",
        caller,
        rows=rows,
        before=before,
        next_before=rows[-1].id if len(rows) == limit else None,
    )


# the audit log


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """The audit page's filters, as typed in the form (times in UTC)."""

    actor: str = ""
    action: str = ""
    object: str = ""
    since: str = ""
    until: str = ""

    def query(self, **more: Any) -> dict[str, Any]:
        """The filters as query parameters for a link (with `more`), empty ones left out."""
        fields = {
            "actor": self.actor,
            "action": self.action,
            "object": self.object,
            "since": self.since,
            "until": self.until,
        }
        return {k: v for k, v in {**fields, **more}.items() if v not in ("", None)}


def audit_page(
    request: Request,
    caller: Annotated[Caller, requires(Permission.AUDIT_READ)],
    *,
    limit: Limit = PAGE_DEFAULT,
    before: Before = None,
    actor: Filter = "",
    action: Filter = "",
    object_: Annotated[str, Query(alias="object", max_length=300)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The audit log a page at a time, newest first, filtered by actor, action and object
    (exactly, or by a prefix ending in `*`) and by time; and the button that verifies the
    chain (`POST /api/audit/verify`)."""
    filters = AuditFilters(actor.strip(), action.strip(), object_.strip(), since.strip(), until.strip())
    error = ""
    rows: list[AuditEntry] = []
    try:
        start, end = _utc(filters.since, "since"), _utc(filters.until, "until")
        if start is not None and end is not None and end <= start:
            raise InvalidInput("'until' must come after 'since'")
        if filters.action and (problem := filter_problem(filters.action)) is not None:
            raise InvalidInput(problem)
        rows = runtime_of(request).audit_log.page(
            limit=limit,
            before=before,
            actor=filters.actor or None,
            action=filters.action or None,
            object=filters.object or None,
            since=start,
            until=end,
        )
    except InvalidInput as exc:
        error = str(exc)
    return render(
        request,
        "audit.html",
        caller,
        rows=rows,
        filters=filters,
        filtered=bool(filters.query()),
        before=before,
        limit=limit,
        next_before=rows[-1].seq if len(rows) == limit else None,
        error=error,
        can_read_receipts=can(caller.actor, Permission.RECEIPTS_READ),
    )


def _utc(text: str, what: str) -> datetime | None:
    """A time typed in the filter form (`2026-11-27T10:00`, or with an offset): UTC unless
    it says otherwise, as the console shows every time."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{what}' is not a time like 2026-11-27T10:00 (UTC): {text!r}") from None
    return _aware(value)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
