"""Accountability routes: legal holds and deletion receipts, requests for footage (law
enforcement, and the public's subject-access form, which needs no login), the audit log and
its verification, and the public transparency report.

Thin: each route parses, is authorised by its one declared permission and calls the store
or service that does the work and writes the audit record (holds, requests and decisions
are records written by their store, never flags set here).
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import FastAPI, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from citywatch.api.auth import Caller, requires, runtime_of
from citywatch.api.schemas import PAGE_DEFAULT, PAGE_MAX, SIGNED_IN, problems
from citywatch.api.uploads import RateLimit, read_form
from citywatch.audit.access import Permission
from citywatch.audit.chain import AuditEntry
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import Window
from citywatch.media.images import decode_image
from citywatch.runtime.build import Runtime
from citywatch.services.requests import fulfil
from citywatch.services.subject_access import file_subject_access
from citywatch.services.transparency import transparency_report
from citywatch.store.requests import WORK_FOLDER, NewRequest, RequestInfo, RequestKind, RequestStatus
from citywatch.store.retention import HoldInfo, NewHold, ReceiptInfo

WEB_FORM = Actor("citywatch@public-form", "public", service=True)
"""Who files a subject-access request sent through the public form: the form, a service,
on behalf of the requester (named in the request); never a decider of anything."""

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX, description="Items on this page.")]


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


class HoldPublic(BaseModel):
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


class ReceiptList(BaseModel):
    items: list[ReceiptPublic]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null: none.")


class RequestCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reference": "MET-2026-5531",
                    "requester": "Metropolitan Police, DC Shaw",
                    "contact": "dc.shaw@example.org",
                    "cameras": ["gate-1"],
                    "starts_at": "2026-11-27T08:00:00Z",
                    "ends_at": "2026-11-27T09:00:00Z",
                }
            ]
        },
    )

    reference: str = Field(min_length=1, max_length=200, description="The agency's case reference.")
    requester: str = Field(min_length=1, max_length=200, description="Agency and officer.")
    contact: str = Field("", max_length=500)
    cameras: list[str] = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "out of scope"}]})

    reason: str = Field(min_length=1, max_length=2000, description="Why, for the requester.")


class RequestPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "kind": "law_enforcement",
                    "status": "filed",
                    "reference": "MET-2026-5531",
                    "requester": "Metropolitan Police, DC Shaw",
                    "contact": "dc.shaw@example.org",
                    "cameras": ["gate-1"],
                    "starts_at": "2026-11-27T08:00:00Z",
                    "ends_at": "2026-11-27T09:00:00Z",
                    "deadline": "2026-12-27T10:00:00Z",
                    "filed_at": "2026-11-27T10:00:00Z",
                    "decided_by": None,
                    "refusal_reason": None,
                    "hold_id": 9,
                    "export_id": None,
                }
            ]
        }
    )

    id: int
    kind: RequestKind
    status: RequestStatus
    reference: str
    requester: str
    contact: str
    cameras: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    deadline: datetime
    filed_at: datetime
    decided_by: str | None
    refusal_reason: str | None
    hold_id: int | None
    export_id: int | None

    @classmethod
    def of(cls, info: RequestInfo) -> RequestPublic:
        return cls(
            id=info.id,
            kind=info.kind,
            status=info.status,
            reference=info.reference,
            requester=info.requester,
            contact=info.contact,
            cameras=info.cameras,
            starts_at=info.window.start,
            ends_at=info.window.end,
            deadline=info.deadline,
            filed_at=info.created_at,
            decided_by=info.decided_by,
            refusal_reason=info.refusal_reason,
            hold_id=info.hold_id,
            export_id=info.export_id,
        )


class RequestList(BaseModel):
    items: list[RequestPublic]
    total: int = Field(description="Requests matching the filter, over every page.")
    offset: int


class PublicRequestForm(BaseModel):
    """The public form's fields (the photo is the `photo` file part)."""

    model_config = ConfigDict(extra="forbid")

    requester: str = Field(min_length=1, max_length=200, description="Your name.")
    contact: str = Field(min_length=1, max_length=500, description="How to reach you with the answer.")
    cameras: list[str] = Field(
        min_length=1, max_length=50, description="Cameras (repeat, or comma-separated)."
    )
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="before")
    @classmethod
    def _split_cameras(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("cameras"), list):
            data = {
                **data,
                "cameras": [c.strip() for v in data["cameras"] for c in v.split(",") if c.strip()],
            }
        return data


class PublicRequestReceipt(BaseModel):
    """What the requester is told at once: the reference and the deadline, never whether
    they were found (anyone could send anyone's photo); the answer goes to their contact."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"reference": "SAR-20261127-A1B2C3", "status": "filed", "deadline": "2026-12-27T10:00:00Z"}
            ]
        }
    )

    reference: str
    status: RequestStatus
    deadline: datetime


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
                            "action": "authorisation.approve",
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


class AuditVerdict(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"ok": True, "records": 812, "first_bad_seq": None, "reason": "", "anchor_seq": None}
            ]
        }
    )

    ok: bool
    records: int
    first_bad_seq: int | None = Field(description="Where the first problem starts.")
    reason: str
    anchor_seq: int | None = Field(description="The signed anchor the chain starts from after a prune.")


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
    runtime: Runtime = app.state.runtime
    app.state.public_requests = RateLimit(runtime.settings.api.public_requests_per_hour)
    created = status.HTTP_201_CREATED
    route = app.add_api_route
    holds: list[str | Enum] = ["holds"]
    requests: list[str | Enum] = ["requests"]
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
        responses=problems(*SIGNED_IN, 404, 409),
    )
    route("/api/receipts", list_receipts, methods=["GET"], tags=holds, responses=problems(*SIGNED_IN))
    route("/api/requests", list_requests, methods=["GET"], tags=requests, responses=problems(*SIGNED_IN))
    route(
        "/api/requests",
        file_request,
        methods=["POST"],
        tags=requests,
        status_code=created,
        responses=problems(*SIGNED_IN, 404),
    )
    for verb, move in (("review", review), ("approve", approve), ("refuse", refuse), ("close", close)):
        route(
            f"/api/requests/{{request_id}}/{verb}",
            move,
            methods=["POST"],
            tags=requests,
            responses=problems(*SIGNED_IN, 404, 409, 503),
        )
    route(
        "/api/public/requests",
        file_public_request,
        methods=["POST"],
        tags=["public"],
        status_code=created,
        responses=problems(404, 413, 415, 422, 429, 503),
        openapi_extra={"requestBody": _PUBLIC_FORM_BODY},
    )
    route("/api/audit", audit_records, methods=["GET"], tags=audit, responses=problems(*SIGNED_IN))
    route("/api/audit/verify", verify_audit, methods=["POST"], tags=audit, responses=problems(*SIGNED_IN))
    route("/api/transparency", transparency, methods=["GET"], tags=["public"], responses=problems(422))


_PUBLIC_FORM_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["photo", "requester", "contact", "cameras", "starts_at", "ends_at"],
                "properties": {
                    "photo": {"type": "string", "format": "binary", "description": "A photo of you alone."},
                    "requester": {"type": "string", "maxLength": 200},
                    "contact": {"type": "string", "maxLength": 500},
                    "cameras": {"type": "array", "items": {"type": "string"}},
                    "starts_at": {"type": "string", "format": "date-time"},
                    "ends_at": {"type": "string", "format": "date-time"},
                },
            }
        }
    },
}


# holds and receipts


def list_holds(
    request: Request,
    _: Annotated[Caller, requires(Permission.HOLDS_MANAGE)],
    include_released: Annotated[bool, Query(description="Released and expired holds too.")] = False,
) -> HoldList:
    """Holds in force (or every hold)."""
    infos = runtime_of(request).retention.holds(include_released=include_released)
    now = _now()
    return HoldList(items=[HoldPublic.of(i, now) for i in infos])


def place_hold(
    request: Request, caller: Annotated[Caller, requires(Permission.HOLDS_MANAGE)], body: HoldCreate
) -> HoldPublic:
    """Hold cameras over a time window, or named sightings, alerts or recordings: they survive
    retention until the hold is released or expires."""
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
    """Keep a hold longer (never shorter: release it instead)."""
    info = runtime_of(request).retention.extend_hold(hold_id, body.expires_at, by=caller.actor)
    return HoldPublic.of(info, _now())


def release_hold(
    request: Request, caller: Annotated[Caller, requires(Permission.HOLDS_MANAGE)], hold_id: int
) -> ReceiptPublic:
    """Release a hold; the receipt counts what it alone kept, deleted at the next purge."""
    receipt = runtime_of(request).retention.release_hold(hold_id, by=caller.actor)
    return ReceiptPublic.model_validate(receipt)


def list_receipts(
    request: Request,
    _: Annotated[Caller, requires(Permission.RECEIPTS_READ)],
    limit: Limit = PAGE_DEFAULT,
    before: Annotated[int | None, Query(ge=1, description="Receipts with a lower id (next page).")] = None,
) -> ReceiptList:
    """Deletion receipts: purges, hold releases, authorisations closed; newest first."""
    rows: list[ReceiptInfo] = runtime_of(request).retention.receipts(limit=limit, before=before)
    return ReceiptList(
        items=[ReceiptPublic.model_validate(r) for r in rows],
        next_before=rows[-1].id if len(rows) == limit else None,
    )


# requests


def list_requests(
    request: Request,
    _: Annotated[Caller, requires(Permission.REQUESTS_READ)],
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
    limit: Limit = PAGE_DEFAULT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RequestList:
    """Requests and where each stands, oldest first."""
    infos = runtime_of(request).requests.list(status_)
    return RequestList(
        items=[RequestPublic.of(i) for i in infos[offset : offset + limit]], total=len(infos), offset=offset
    )


def file_request(
    request: Request, caller: Annotated[Caller, requires(Permission.REQUESTS_FILE)], body: RequestCreate
) -> RequestPublic:
    """Record a law-enforcement request: its cameras are held over its window at once."""
    rt = runtime_of(request)
    info = rt.requests.file(
        NewRequest(
            RequestKind.LAW_ENFORCEMENT,
            body.reference,
            body.requester,
            body.contact,
            body.cameras,
            Window(body.starts_at, body.ends_at),
        ),
        by=caller.actor,
        known_cameras={c.id for c in rt.settings.cameras}
        | {c for c in body.cameras if rt.footage.has_footage(c)},
    )
    return RequestPublic.of(info)


def review(
    request: Request, caller: Annotated[Caller, requires(Permission.REQUESTS_DECIDE)], request_id: int
) -> RequestPublic:
    """Take a request into review."""
    return RequestPublic.of(runtime_of(request).requests.review(request_id, by=caller.actor))


def approve(
    request: Request, caller: Annotated[Caller, requires(Permission.REQUESTS_DECIDE)], request_id: int
) -> RequestPublic:
    """Approve a request (a supervisor other than its filer) and produce its export package.
    Should the export fail (503), the request stays approved."""
    rt = runtime_of(request)
    rt.requests.approve(request_id, by=caller.actor)
    return RequestPublic.of(fulfil(rt, request_id, by=caller.actor))


def refuse(
    request: Request,
    caller: Annotated[Caller, requires(Permission.REQUESTS_DECIDE)],
    request_id: int,
    body: Refusal,
) -> RequestPublic:
    """Refuse a request, with its reason; its hold is released (receipt)."""
    return RequestPublic.of(runtime_of(request).requests.refuse(request_id, body.reason, by=caller.actor))


def close(
    request: Request, caller: Annotated[Caller, requires(Permission.REQUESTS_DECIDE)], request_id: int
) -> RequestPublic:
    """Close a fulfilled or refused request; its hold is released (receipt)."""
    return RequestPublic.of(runtime_of(request).requests.close(request_id, by=caller.actor))


async def file_public_request(
    request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]
) -> PublicRequestReceipt:
    """A subject-access request, no login needed: a photo of yourself alone (multipart
    `photo`), your name and contact, the cameras and time window. The system searches for
    you and holds what it finds; the answer goes to your contact once a supervisor approves."""
    rt = runtime_of(request)
    limiter: RateLimit = request.app.state.public_requests
    limiter.check(request.client.host if request.client else "unknown")
    max_bytes = int(rt.settings.api.public_photo_max_mb * 1_000_000)
    form = await read_form(request, max_bytes=max_bytes)
    try:
        fields = PublicRequestForm.model_validate(
            {k: v if k == "cameras" else v[-1] for k, v in form.fields.items()}
        )
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    photo = form.files.get("photo")
    if photo is None:
        raise InvalidInput("send a photo of yourself as the form's `photo` file")
    name = _SAFE_NAME.sub("-", Path(photo.filename).name)[-64:].strip(".-") or "photo"
    decode_image(photo.data, name)  # not an image: refused before anything else runs
    info = await anyio.to_thread.run_sync(_file_subject_access, rt, fields, name, photo.data)
    return PublicRequestReceipt(reference=info.reference, status=info.status, deadline=info.deadline)


def _file_subject_access(rt: Runtime, fields: PublicRequestForm, name: str, data: bytes) -> RequestInfo:
    work = rt.settings.data_dir / WORK_FOLDER
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix="public-request-") as folder:
        photo = Path(folder) / name
        photo.write_bytes(data)
        info, _found = file_subject_access(
            rt,
            requester=fields.requester,
            contact=fields.contact,
            cameras=fields.cameras,
            window=Window(fields.starts_at, fields.ends_at),
            photo=photo,
            by=WEB_FORM,
        )
    return info


# audit and transparency


def audit_records(
    request: Request,
    _: Annotated[Caller, requires(Permission.AUDIT_READ)],
    *,
    limit: Limit = PAGE_DEFAULT,
    before: Annotated[int | None, Query(ge=1, description="Records with a lower seq (next page).")] = None,
    action: Annotated[str | None, Query(max_length=100, description="Exactly this action.")] = None,
    actor: Annotated[str | None, Query(max_length=200, description="Exactly this actor.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="At or after this time.")] = None,
) -> AuditPage:
    """Audit records, newest first, filtered by action, actor and time."""
    rows: list[AuditEntry] = runtime_of(request).audit_log.page(
        limit=limit, before=before, action=action, actor=actor, since=since
    )
    return AuditPage(
        items=[AuditRecordPublic.model_validate(e) for e in rows],
        next_before=rows[-1].seq if len(rows) == limit else None,
    )


def verify_audit(request: Request, _: Annotated[Caller, requires(Permission.AUDIT_READ)]) -> AuditVerdict:
    """Check the hash chain, the signed checkpoints and any signed anchor: the verdict names
    the first bad record."""
    v = runtime_of(request).audit_log.verify()
    return AuditVerdict(
        ok=v.ok,
        records=v.records,
        first_bad_seq=v.first_bad_seq,
        reason=v.reason,
        anchor_seq=None if v.anchor is None else v.anchor.seq,
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
    return TransparencyPublic.model_validate(transparency_report(runtime_of(request), since, until))


def _now() -> datetime:
    return datetime.now().astimezone()
