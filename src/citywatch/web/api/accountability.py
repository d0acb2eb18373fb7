"""Accountability routes: legal holds and deletion receipts, the audit log and its
verification, and the public transparency report (requests for footage: api.requests).

Thin: each route parses, is authorised by its one declared permission and calls the store
or service that does the work and writes the audit record (a hold is a record written by
the holds' service, never a flag set here).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response, status
from pydantic import AwareDatetime

from citywatch.audit.chain import AuditEntry, compared
from citywatch.audit.receipts import ReceiptInfo
from citywatch.domain.access import Permission
from citywatch.domain.audit import filter_problem
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import Window
from citywatch.retention.hold_records import NewHold
from citywatch.transparency.report import transparency_report
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import Limit
from citywatch.web.api.schemas.accountability import (
    AuditPage,
    AuditRecordPublic,
    AuditVerdict,
    AuditWitnessPublic,
    HoldCreate,
    HoldExtend,
    HoldList,
    HoldPublic,
    HoldReleaseAsk,
    HoldReleasePublic,
    ReceiptList,
    ReceiptPublic,
    TransparencyPublic,
)
from citywatch.web.api.schemas.common import PAGE_DEFAULT, SIGNED_IN, problems

# --- routes ----------------------------------------------------------------------------------


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    created = status.HTTP_201_CREATED
    route = app.add_api_route
    holds: list[str | Enum] = ["holds"]
    audit: list[str | Enum] = ["audit"]
    route("/api/holds", list_holds, methods=["GET"], tags=holds, responses=problems(*SIGNED_IN))
    route(
        "/api/holds",
        place_hold,
        methods=["POST"],
        tags=holds,
        status_code=created,
        responses=problems(*SIGNED_IN, 404),
    )
    route(
        "/api/holds/{hold_id}/extend",
        extend_hold,
        methods=["POST"],
        tags=holds,
        responses=problems(*SIGNED_IN, 404, 409),
    )
    route(
        "/api/holds/{hold_id}/release",
        release_hold,
        methods=["POST"],
        tags=holds,
        responses={
            **problems(*SIGNED_IN, 404, 409, 422),
            202: {"model": HoldReleasePublic, "description": "Waits for a second person."},
        },
    )
    route("/api/receipts", list_receipts, methods=["GET"], tags=holds, responses=problems(*SIGNED_IN))
    route("/api/audit", audit_records, methods=["GET"], tags=audit, responses=problems(*SIGNED_IN))
    route("/api/audit/verify", verify_audit, methods=["POST"], tags=audit, responses=problems(*SIGNED_IN))
    route("/api/transparency", transparency, methods=["GET"], tags=["public"], responses=problems(422))


# holds and receipts


def list_holds(
    request: Request,
    caller: Annotated[Caller, requires(Permission.HOLDS_MANAGE)],
    include_released: Annotated[bool, Query(description="Released and expired holds too.")] = False,
) -> HoldList:
    """Holds in force (or every hold); for a caller limited to some cameras, only the holds
    wholly within them."""
    infos = runtime_of(request).retention.holds(include_released=include_released, visible_to=caller.actor)
    now = _now()
    return HoldList(items=[HoldPublic.of(i, now) for i in infos])


def place_hold(
    request: Request, caller: Annotated[Caller, requires(Permission.HOLDS_MANAGE)], body: HoldCreate
) -> HoldPublic:
    """Hold cameras over a time window, or named sightings, alerts or recordings: they survive
    retention until the hold is released or expires. A caller limited to some cameras holds
    only those (403 otherwise, audited)."""
    window = None
    if body.cameras or body.starts_at or body.ends_at:
        if body.starts_at is None or body.ends_at is None:
            raise InvalidInput("a hold over cameras needs starts_at and ends_at")
        window = Window(body.starts_at, body.ends_at)
    info = runtime_of(request).retention.place_hold(
        NewHold(
            reference=body.reference,
            reason=body.reason,
            requester=body.requester,
            cameras=body.cameras,
            window=window,
            items=[(i.kind, i.id) for i in body.items],
            expires_at=body.expires_at,
        ),
        by=caller.actor,
    )
    return HoldPublic.of(info, _now())


def extend_hold(
    request: Request,
    caller: Annotated[Caller, requires(Permission.HOLDS_MANAGE)],
    hold_id: int,
    body: HoldExtend,
) -> HoldPublic:
    """Keep a hold longer (never shorter: release it instead); only a hold within the
    caller's camera scope (403 otherwise, audited)."""
    info = runtime_of(request).retention.extend_hold(hold_id, body.expires_at, by=caller.actor)
    return HoldPublic.of(info, _now())


def release_hold(
    request: Request,
    response: Response,
    caller: Annotated[Caller, requires(Permission.HOLDS_MANAGE)],
    hold_id: int,
    body: HoldReleaseAsk,
) -> HoldReleasePublic:
    """Release a hold, saying why. One's own is released at once (200; the receipt counts
    what it alone kept, deleted at the next purge); another person's waits for a second
    person (202: `change`, approved at /api/changes/{id}/approve). Refused, audited: a hold
    a request placed (409: the request's decision releases it), one outside the caller's
    camera scope (403)."""
    done = runtime_of(request).retention.release_hold(hold_id, body.reason, by=caller.actor)
    if done.change is not None:
        response.status_code = status.HTTP_202_ACCEPTED
        return HoldReleasePublic(
            status="pending",
            receipt=None,
            change=done.change.id,
            detail=f"hold {hold_id} is released once a second person approves change {done.change.id}",
        )
    return HoldReleasePublic(
        status="released",
        receipt=None if done.receipt is None else ReceiptPublic.model_validate(done.receipt),
        change=None,
        detail=f"hold {hold_id} released",
    )


def list_receipts(
    request: Request,
    caller: Annotated[Caller, requires(Permission.RECEIPTS_READ)],
    limit: Limit = PAGE_DEFAULT,
    before: Annotated[int | None, Query(ge=1, description="Receipts with a lower id (next page).")] = None,
) -> ReceiptList:
    """Deletion receipts: purges, hold releases, authorisations closed; newest first. A caller
    limited to some cameras sees only the receipts within them: a hold release or a closed
    authorisation touching a camera outside the scope is left out whole."""
    rows: list[ReceiptInfo] = runtime_of(request).purger.receipts(
        limit=limit, before=before, visible_to=caller.actor
    )
    return ReceiptList(
        items=[ReceiptPublic.model_validate(r) for r in rows],
        next_before=rows[-1].id if len(rows) == limit else None,
    )


# audit and transparency

_EXACT = "Exactly this {}, or those starting with a prefix ending in `*` (`request.*`)."
_ACTION = _EXACT.format("action") + " An action (or prefix) no audit record can have is refused (422)."


def audit_records(
    request: Request,
    _: Annotated[Caller, requires(Permission.AUDIT_READ)],
    *,
    limit: Limit = PAGE_DEFAULT,
    before: Annotated[int | None, Query(ge=1, description="Records with a lower seq (next page).")] = None,
    action: Annotated[str | None, Query(max_length=100, description=_ACTION)] = None,
    actor: Annotated[str | None, Query(max_length=200, description=_EXACT.format("actor"))] = None,
    object_: Annotated[
        str | None, Query(alias="object", max_length=300, description=_EXACT.format("object"))
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="At or after this time.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Before this time.")] = None,
) -> AuditPage:
    """Audit records, newest first, filtered by action, actor, object and time. An action
    the catalogue does not know (nor a prefix of one) is refused: a typo, not an empty page."""
    if action is not None and (problem := filter_problem(action)) is not None:
        raise InvalidInput(problem)
    rows: list[AuditEntry] = runtime_of(request).audit_log.page(
        limit=limit, before=before, action=action, actor=actor, object=object_, since=since, until=until
    )
    return AuditPage(
        items=[AuditRecordPublic.model_validate(e) for e in rows],
        next_before=rows[-1].seq if len(rows) == limit else None,
    )


def verify_audit(request: Request, _: Annotated[Caller, requires(Permission.AUDIT_READ)]) -> AuditVerdict:
    """Check the hash chain, the signed checkpoints, any signed anchor and the chain against the
    witness's signed heads: the verdict names the first bad record and what was compared."""
    v = runtime_of(request).audit_log.verify()
    w = v.witness
    return AuditVerdict(
        ok=v.ok,
        records=v.records,
        first_bad_seq=v.first_bad_seq,
        reason=v.reason,
        anchor_seq=None if v.anchor is None else v.anchor.seq,
        first_seq=v.first_seq,
        last_seq=v.last_seq,
        checkpoints=v.checkpoints,
        witness=None
        if w is None
        else AuditWitnessPublic(
            path=w.source,
            present=w.present,
            heads=w.heads,
            last_seq=None if w.last is None else w.last.seq,
            last_hash=None if w.last is None else w.last.hash,
            last_at=None if w.last is None else w.last.at,
            unreadable=w.unreadable,
        ),
        problems=[p.reason for p in v.problems],
        notes=list(v.notes),
        compared=compared(v),
    )


def transparency(
    request: Request,
    _: Annotated[Caller, requires(Permission.PUBLIC)],
    since: Annotated[
        AwareDatetime | None, Query(description="Period start; default: the first record.")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="Period end; default: now.")] = None,
) -> TransparencyPublic:
    """The public transparency report: deletions, holds, requests, cameras identifying and
    authorisations in force, as counts only."""
    rt = runtime_of(request)
    report = transparency_report(rt.database, rt.policy, rt.cameras(), since, until)
    return TransparencyPublic.model_validate(report)


def _now() -> datetime:
    return datetime.now().astimezone()
