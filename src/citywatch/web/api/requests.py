"""Requests for footage: law enforcement's (signed in) and the public's subject-access
form, which needs no login, through their one workflow (filed, in review, approved and
fulfilled with an export, or refused; then closed).

Thin: each route parses, is authorised by its one declared permission and calls the request
store (which holds the data in scope, lets only a supervisor other than the filer decide
and writes the audit record) or the service that searches and exports.
"""

from __future__ import annotations

import re
import tempfile
import threading
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import FastAPI, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import AliasPath, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from citywatch.domain.access import Permission
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput, Unavailable
from citywatch.domain.policy import Window
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.requests.fulfil import fulfil
from citywatch.requests.records import NewRequest, RequestInfo
from citywatch.requests.subject_access import file_subject_access
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import fulfilment, subject_access
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import Limit
from citywatch.web.api.schemas.common import PAGE_DEFAULT, SIGNED_IN, problems
from citywatch.web.api.uploads import RateLimit, decode_upload, read_form

WEB_FORM = Actor("citywatch@public-form", "public", service=True)
"""Who files a subject-access request sent through the public form: the form, a service,
on behalf of the requester (named in the request); never a decider of anything."""

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# --- schemas ---------------------------------------------------------------------------------


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
        from_attributes=True,
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
        },
    )

    id: int
    kind: RequestKind
    status: RequestStatus
    reference: str
    requester: str
    contact: str
    cameras: list[str]
    starts_at: datetime | None = Field(validation_alias=AliasPath("window", "start"))
    ends_at: datetime | None = Field(validation_alias=AliasPath("window", "end"))
    deadline: datetime
    filed_at: datetime = Field(validation_alias="created_at")
    decided_by: str | None
    refusal_reason: str | None
    hold_id: int | None
    export_id: int | None


class RequestList(BaseModel):
    items: list[RequestPublic]
    total: int = Field(description="Requests matching the filter, over every page.", examples=[1])
    offset: int = Field(description="Where this page starts among them.", examples=[0])


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


# --- routes ----------------------------------------------------------------------------------


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    runtime: Runtime = app.state.runtime
    app.state.public_requests = RateLimit(runtime.settings.api.public_requests_per_hour)
    app.state.public_searches = threading.BoundedSemaphore(runtime.settings.api.public_searches_at_once)
    created = status.HTTP_201_CREATED
    route = app.add_api_route
    requests: list[str | Enum] = ["requests"]
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


def list_requests(
    request: Request,
    caller: Annotated[Caller, requires(Permission.REQUESTS_READ)],
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
    limit: Limit = PAGE_DEFAULT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RequestList:
    """Requests and where each stands, oldest first; for a caller limited to some cameras,
    only the requests whose cameras all lie within them."""
    infos = runtime_of(request).requests.list(status_, visible_to=caller.actor)
    return RequestList(
        items=[RequestPublic.model_validate(i) for i in infos[offset : offset + limit]],
        total=len(infos),
        offset=offset,
    )


def file_request(
    request: Request, caller: Annotated[Caller, requires(Permission.REQUESTS_FILE)], body: RequestCreate
) -> RequestPublic:
    """Record a law-enforcement request: its cameras are held over its window at once. A
    caller limited to some cameras files only about those (403 otherwise, audited)."""
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
        known_cameras=rt.known_cameras(body.cameras),
    )
    return RequestPublic.model_validate(info)


def review(
    request: Request, caller: Annotated[Caller, requires(Permission.REQUESTS_DECIDE)], request_id: int
) -> RequestPublic:
    """Take a request into review."""
    return RequestPublic.model_validate(runtime_of(request).requests.review(request_id, by=caller.actor))


def approve(
    request: Request, caller: Annotated[Caller, requires(Permission.REQUESTS_DECIDE)], request_id: int
) -> RequestPublic:
    """Approve a request (a supervisor other than its filer) and produce its export package.
    Should the export fail (503), the request stays approved."""
    rt = runtime_of(request)
    rt.requests.approve(request_id, by=caller.actor)
    return RequestPublic.model_validate(fulfil(fulfilment(rt), request_id, by=caller.actor))


def refuse(
    request: Request,
    caller: Annotated[Caller, requires(Permission.REQUESTS_DECIDE)],
    request_id: int,
    body: Refusal,
) -> RequestPublic:
    """Refuse a request, with its reason; its hold is released (receipt)."""
    return RequestPublic.model_validate(
        runtime_of(request).requests.refuse(request_id, body.reason, by=caller.actor)
    )


def close(
    request: Request, caller: Annotated[Caller, requires(Permission.REQUESTS_DECIDE)], request_id: int
) -> RequestPublic:
    """Close a fulfilled or refused request; its hold is released (receipt)."""
    return RequestPublic.model_validate(runtime_of(request).requests.close(request_id, by=caller.actor))


async def file_public_request(
    request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]
) -> PublicRequestReceipt:
    """A subject-access request, no login needed: a photo of yourself alone (multipart
    `photo`), your name and contact, the cameras and time window. The system searches for
    you and holds the named cameras' footage over the window (whatever it finds, so that no
    public figure tells whether you were filmed); the answer goes to your contact once a
    supervisor approves."""
    rt = runtime_of(request)
    limiter: RateLimit = request.app.state.public_requests
    limiter.check(request.client.host if request.client else "unknown")
    max_bytes = int(rt.settings.api.public_photo_max_mb * 1_000_000)
    form = await read_form(request, max_bytes=max_bytes)
    photo = form.one_file("photo")
    try:
        fields = PublicRequestForm.model_validate(
            {k: v if k == "cameras" else v[-1] for k, v in form.fields.items()}
        )
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    if photo is None:
        raise InvalidInput("send a photo of yourself as the form's `photo` file")
    name = _SAFE_NAME.sub("-", Path(photo.filename).name)[-64:].strip(".-") or "photo"
    await decode_upload(request, photo.data, name)  # not an image, or too large: refused first
    searches: threading.BoundedSemaphore = request.app.state.public_searches
    if not searches.acquire(blocking=False):
        raise Unavailable("the form is busy with other requests' searches; send it again in a minute")
    try:
        info = await anyio.to_thread.run_sync(_file_subject_access, rt, fields, name, photo.data)
    finally:
        searches.release()
    return PublicRequestReceipt(reference=info.reference, status=info.status, deadline=info.deadline)


def _file_subject_access(rt: Runtime, fields: PublicRequestForm, name: str, data: bytes) -> RequestInfo:
    work = rt.work_dir()
    with tempfile.TemporaryDirectory(dir=work, prefix="public-request-") as folder:
        photo = Path(folder) / name
        photo.write_bytes(data)
        info, _found = file_subject_access(
            subject_access(rt),
            requester=fields.requester,
            contact=fields.contact,
            cameras=fields.cameras,
            window=Window(fields.starts_at, fields.ends_at),
            photo=photo,
            by=WEB_FORM,
        )
    return info
