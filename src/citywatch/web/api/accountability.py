"""Accountability routes: legal holds and deletion receipts, the audit log and its
verification, and the public transparency report (requests for footage: api.requests).

Thin: each route parses, is authorised by its one declared permission and calls the store
or service that does the work and writes the audit record (a hold is a record written by
the retention store, never a flag set here).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from citywatch.audit.chain import AuditEntry, compared
from citywatch.audit.receipts import ReceiptInfo
from citywatch.domain.access import Permission
from citywatch.domain.audit import Action, filter_problem
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import Window
from citywatch.retention.hold_records import HoldInfo, NewHold
from citywatch.transparency.report import transparency_report
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import Limit
from citywatch.web.api.schemas import PAGE_DEFAULT, SIGNED_IN, problems

# --- schemas ---------------------------------------------------------------------------------


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sighting", "alert", "recording"]
    id: int = Field(ge=1)


class HoldCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reference": "case:2026-0412",
                    "reason": "evidence in an assault investigation",
                    "cameras": ["gate-1"],
                    "starts_at": "2026-11-27T08:00:00Z",
                    "ends_at": "2026-11-27T09:00:00Z",
                    "items": [{"kind": "sighting", "id": 12}],
                }
            ]
        },
    )

    reference: str = Field(min_length=1, max_length=200, description="The case or request it serves.")
    reason: str = Field(min_length=1, max_length=1000, description="Why the data must be kept.")
    requester: str = Field("", max_length=200, description="Who asked for it (default: the caller).")
    cameras: list[str] = Field(default_factory=list, max_length=200)
    starts_at: AwareDatetime | None = Field(None, description="Window start (with cameras).")
    ends_at: AwareDatetime | None = Field(None, description="Window end (with cameras).")
    items: list[Item] = Field(default_factory=list, max_length=10_000, description="Named items.")
    expires_at: AwareDatetime | None = Field(None, description="Until then; default: until released.")


class HoldExtend(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"expires_at": None}]})

    expires_at: AwareDatetime | None = Field(description="The new, later expiry; null: until released.")


class HoldReleaseAsk(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "case closed"}]})

    reason: str = Field(
        min_length=1, max_length=1000, pattern=r"\S", description="Why the hold may go (audited)."
    )


class HoldPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "reference": "case:2026-0412",
                    "reason": "evidence in an assault investigation",
                    "requester": "ian",
                    "cameras": ["gate-1"],
                    "starts_at": "2026-11-27T08:00:00Z",
                    "ends_at": "2026-11-27T09:00:00Z",
                    "items": [{"kind": "sighting", "id": 12}],
                    "expires_at": None,
                    "in_force": True,
                    "placed_by": "ian",
                    "placed_at": "2026-11-27T10:00:00Z",
                    "released_at": None,
                    "released_by": None,
                    "awaiting_change": None,
                }
            ]
        }
    )

    id: int
    reference: str
    reason: str
    requester: str
    cameras: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    items: list[Item]
    expires_at: datetime | None
    in_force: bool
    placed_by: str
    placed_at: datetime
    released_at: datetime | None
    released_by: str | None
    awaiting_change: int | None = Field(
        None,
        description="The pending change a second person must approve (a city-wide or long hold "
        "protects meanwhile, until expires_at); null: none waits.",
    )

    @classmethod
    def of(cls, info: HoldInfo, now: datetime) -> HoldPublic:
        h = info.hold
        return cls(
            id=h.id,
            reference=h.reference,
            reason=info.reason,
            requester=info.requester,
            cameras=sorted(h.cameras),
            starts_at=None if h.window is None else h.window.start,
            ends_at=None if h.window is None else h.window.end,
            items=[Item(kind=k, id=i) for k, i in sorted(h.items)],
            expires_at=h.expires_at,
            in_force=h.in_force(now),
            placed_by=info.created_by,
            placed_at=info.created_at,
            released_at=h.released_at,
            released_by=info.released_by,
            awaiting_change=info.awaiting_change,
        )


class HoldList(BaseModel):
    items: list[HoldPublic]


class ReceiptPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "kind": "purge",
                    "at": "2026-11-27T03:00:00Z",
                    "policy_version": "retention-v1",
                    "counts": {"sightings": 120, "footage": 4},
                    "details": {"sighting_ids": [1, 120]},
                    "audit_seq": 5120,
                }
            ]
        },
    )

    id: int
    kind: str = Field(description="purge, hold_release or authorisation.")
    at: datetime
    policy_version: str
    counts: dict[str, int]
    details: dict[str, Any] = Field(description="Id ranges and hashes: proof of what went, no content.")
    audit_seq: int | None = Field(description="The audit record that carries this receipt.")


class HoldReleasePublic(BaseModel):
    """A release done (`released`, with its receipt) or waiting for a second person
    (`pending`, with the change to approve)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "pending",
                    "receipt": None,
                    "change": 17,
                    "detail": "hold 4 was placed by ian: its release waits for a second person (change 17)",
                }
            ]
        }
    )

    status: Literal["released", "pending"]
    receipt: ReceiptPublic | None
    change: int | None
    detail: str


class ReceiptList(BaseModel):
    items: list[ReceiptPublic]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null: none.")


class AuditRecordPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    object: str
    legal_basis: str
    authorisation: str
    case: str
    params: dict[str, Any]
    result_count: int | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "seq": 812,
                            "at": "2026-11-27T10:02:11Z",
                            "actor": "sam",
                            "role": "supervisor",
                            "action": Action.AUTHORISATION_APPROVE.value,
                            "object": "authorisation:W-2026-114",
                            "legal_basis": "Police Act s.12",
                            "authorisation": "W-2026-114",
                            "case": "",
                            "params": {"cameras": ["gate-1"]},
                            "result_count": None,
                            "prev_hash": "9f2c…",
                            "hash": "41aa…",
                        }
                    ],
                    "next_before": 812,
                }
            ]
        }
    )

    items: list[AuditRecordPublic]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null: none.")


class AuditWitnessPublic(BaseModel):
    path: str = Field(description="The witness file compared with.")
    present: bool
    heads: int = Field(description="Its lines whose signature verified.")
    last_seq: int | None = Field(description="The newest record a signed head names.")
    last_hash: str | None
    last_at: str | None = Field(description="When that head was signed.")
    unreadable: int = Field(description="Lines that are not signed heads (ignored, noted).")


class AuditVerdict(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ok": True,
                    "records": 812,
                    "first_bad_seq": None,
                    "reason": "",
                    "anchor_seq": None,
                    "first_seq": 1,
                    "last_seq": 812,
                    "checkpoints": 8,
                    "witness": {
                        "path": "/var/lib/citywatch/audit-witness.jsonl",
                        "present": True,
                        "heads": 790,
                        "last_seq": 812,
                        "last_hash": "9f2c…",
                        "last_at": "2026-11-27T08:00:00+00:00",
                        "unreadable": 0,
                    },
                    "problems": [],
                    "notes": [],
                    "compared": ["records 1–812 (812), chain and hashes", "…"],
                }
            ]
        }
    )

    ok: bool
    records: int
    first_bad_seq: int | None = Field(description="Where the first problem starts.")
    reason: str
    anchor_seq: int | None = Field(description="The signed anchor the chain starts from after a prune.")
    first_seq: int | None = Field(description="The first stored record compared.")
    last_seq: int | None = Field(description="The last stored record compared.")
    checkpoints: int = Field(description="Signed checkpoints compared (those after the anchor).")
    witness: AuditWitnessPublic | None = Field(
        description="The witness compared with (None: none configured)."
    )
    problems: list[str] = Field(description="Every problem found, the first one in `reason`.")
    notes: list[str] = Field(description="What is worth knowing but breaks nothing.")
    compared: list[str] = Field(description="What was compared, in words.")


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ReceiptKindSummaryPublic(_FromAttributes):
    kind: str
    receipts: int
    items: dict[str, int]


class HoldSummaryPublic(_FromAttributes):
    in_force: int
    by_reference: dict[str, int]


class RequestCountPublic(_FromAttributes):
    kind: str
    status: str
    count: int


class CameraSummaryPublic(_FromAttributes):
    configured: int
    identifying: int
    by_mode: dict[str, int]


class LegalBasisSummaryPublic(_FromAttributes):
    legal_basis: str
    authorisations: int
    cameras: int


class AuthorisationSummaryPublic(_FromAttributes):
    in_force: int
    urgent_unapproved: int
    by_legal_basis: list[LegalBasisSummaryPublic]
    by_size: dict[int, int] = Field(description="Cameras named → authorisations in force naming that many.")


class TransparencyPublic(_FromAttributes):
    """Aggregate counts only: no person, requester, issuer or reference is ever named."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-10-01T00:00:00Z",
                    "until": "2026-11-01T00:00:00Z",
                    "generated_at": "2026-11-01T06:00:00Z",
                    "receipts": 31,
                    "deleted": {"sightings": 120400, "alerts": 310, "footage": 4460},
                    "by_kind": [{"kind": "purge", "receipts": 31, "items": {"sightings": 120400}}],
                    "holds": {"in_force": 2, "by_reference": {"court order": 1, "investigation": 1}},
                    "requests": [{"kind": "subject_access", "status": "closed", "count": 4}],
                    "overdue_requests": 0,
                    "cameras": {
                        "configured": 40,
                        "identifying": 6,
                        "by_mode": {"detect": 34, "watchlist": 6},
                    },
                    "authorisations": {
                        "in_force": 3,
                        "urgent_unapproved": 0,
                        "by_legal_basis": [
                            {"legal_basis": "public safety", "authorisations": 3, "cameras": 6}
                        ],
                        "by_size": {"2": 3},
                    },
                }
            ]
        },
    )

    since: datetime | None
    until: datetime
    generated_at: datetime
    receipts: int
    deleted: dict[str, int]
    by_kind: list[ReceiptKindSummaryPublic]
    holds: HoldSummaryPublic
    requests: list[RequestCountPublic]
    overdue_requests: int
    cameras: CameraSummaryPublic
    authorisations: AuthorisationSummaryPublic


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
    report = transparency_report(rt.database, rt.policy, rt.settings.cameras, since, until)
    return TransparencyPublic.model_validate(report)


def _now() -> datetime:
    return datetime.now().astimezone()
