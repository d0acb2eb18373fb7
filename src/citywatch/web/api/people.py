"""Watchlist and person routes: lists, and enrolment by upload (multipart) through the
Enrolment service, proposed by the caller and matched only once a second person approves.

The upload is read by api.uploads (the whole body bounded), then bounded here (size per photo,
number of photos) and checked to be images before any model is loaded; the models run only on
photos that decode."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citywatch.domain.access import Permission
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput
from citywatch.domain.records import ChangeKind
from citywatch.domain.watchlists import Severity, WatchlistCategory
from citywatch.media.images import decode_image
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import audit_of
from citywatch.watchlists import persons
from citywatch.watchlists.enrolment import Enrolment
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.errors import ERROR_RESPONSES, ErrorBody
from citywatch.web.api.schemas.common import PAGE_DEFAULT, PAGE_MAX, SIGNED_IN, problems
from citywatch.web.api.uploads import Form, Upload, off_loop, read_form

MB = 1024 * 1024
FORM_OVERHEAD = 1 * MB
"""Room in a whole upload for its text fields and multipart framing."""
IMAGE_FIELD = "images"
PersonId = Annotated[int, PathParam(ge=1, description="The person's id.")]
_SIGNATURES: tuple[tuple[bytes, str], ...] = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"))


class WatchlistPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "name": "wanted",
                    "category": "wanted",
                    "severity": "high",
                    "threshold": None,
                    "margin": None,
                    "active": True,
                    "expires_at": None,
                    "created_at": "2026-11-01T08:00:00Z",
                }
            ]
        },
    )

    id: int
    name: str
    category: WatchlistCategory
    severity: Severity
    threshold: float | None = Field(description="Its own match threshold (null: the default).")
    margin: float | None = Field(description="Its own margin to the runner-up (null: the default).")
    active: bool
    expires_at: datetime | None
    created_at: datetime


class WatchlistList(BaseModel):
    items: list[WatchlistPublic]


class PersonPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "display_name": "Jane Roe",
                    "watchlist_id": 1,
                    "watchlist_name": "wanted",
                    "notes": "",
                    "status": "pending",
                    "reference_images": 1,
                    "templates": 1,
                    "proposed_by": "sam",
                    "approved_by": "",
                    "created_at": "2026-11-27T09:00:00Z",
                    "updated_at": "2026-11-27T09:00:00Z",
                }
            ]
        },
    )

    id: int
    display_name: str
    watchlist_id: int
    watchlist_name: str
    notes: str
    status: str = Field(description="`pending` until a second person approves; then `active`.")
    reference_images: int
    templates: int
    proposed_by: str
    approved_by: str
    created_at: datetime
    updated_at: datetime


class PersonList(BaseModel):
    items: list[PersonPublic]
    next_after_id: int | None = Field(description="Pass as `after_id` for the next page; null on the last.")


class PersonUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"notes": "seen near the market", "watchlist": "missing"}]},
    )

    display_name: str | None = Field(None, min_length=1, max_length=200, description="At once.")
    notes: str | None = Field(None, max_length=4000, description="At once.")
    watchlist: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Move onto this watchlist: it waits for a second person to approve.",
    )


class PersonUpdated(BaseModel):
    """The person now, and the move waiting for a second person, if one was asked."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"person": PersonPublic.model_json_schema()["examples"][0], "move_change_id": 9}]
        }
    )

    person: PersonPublic
    move_change_id: int | None = Field(
        description="The move onto another watchlist to approve (POST /api/changes/{id}/approve); "
        "the person stays where they are until then."
    )


class PersonRemoved(BaseModel):
    """What was deleted: counts and content hashes, never the data."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "person_id": 3,
                    "reference_images": 1,
                    "templates": 1,
                    "blob_sha256s": ["5d41…"],
                    "blobs_unlinked": 1,
                }
            ]
        },
    )

    person_id: int
    reference_images: int
    templates: int
    blob_sha256s: list[str]
    blobs_unlinked: int = Field(description="Reference image files unlinked (fewer if some were missing).")


class EnrolmentForm(BaseModel):
    """The text fields of an enrolment upload (the photos come as `images` file parts)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, description="Display name of the person.")
    watchlist: str = Field("default", min_length=1, max_length=200, description="Watchlist name.")
    source: str = Field(
        min_length=1,
        max_length=1000,
        description="Where the photos come from (e.g. 'warrant file 2026-114').",
    )
    legal_basis: str = Field(
        min_length=1, max_length=1000, description="Legal basis for enrolling this person."
    )
    category: WatchlistCategory = Field(WatchlistCategory.WANTED, description="Category of a new watchlist.")
    notes: str = Field("", max_length=4000, description="Free-text notes.")


class Enrolled(BaseModel):
    """The person as stored: pending, and the change a second person must approve."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"person": PersonPublic.model_json_schema()["examples"][0], "change_id": 7}]
        }
    )

    person: PersonPublic
    change_id: int | None = Field(
        description="The two-person change to approve (`citywatch changes approve`)."
    )


@dataclass(frozen=True, slots=True)
class Photo:
    """An uploaded photo that decodes, with the suffix its signature names."""

    filename: str
    data: bytes
    suffix: str


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    app.add_api_route(
        "/api/watchlists", list_watchlists, methods=["GET"], tags=["watchlists"], responses=ERROR_RESPONSES
    )
    app.add_api_route(
        "/api/persons", list_persons, methods=["GET"], tags=["persons"], responses=ERROR_RESPONSES
    )
    app.add_api_route(
        "/api/persons",
        enrol_person,
        methods=["POST"],
        tags=["persons"],
        status_code=status.HTTP_201_CREATED,
        responses={
            **ERROR_RESPONSES,
            413: {"model": ErrorBody, "description": "A photo, or the whole upload, is too large."},
            415: {"model": ErrorBody, "description": "Not a multipart/form-data upload."},
        },
        openapi_extra={"requestBody": _enrolment_body()},
    )
    one: dict[str, Any] = {"tags": ["persons"], "responses": problems(*SIGNED_IN, 404)}
    app.add_api_route("/api/persons/{person_id}", get_person, methods=["GET"], **one)
    app.add_api_route(
        "/api/persons/{person_id}",
        update_person,
        methods=["PATCH"],
        tags=["persons"],
        responses=problems(*SIGNED_IN, 404, 409),
    )
    app.add_api_route("/api/persons/{person_id}", remove_person, methods=["DELETE"], **one)
    app.add_api_route(
        "/api/persons/{person_id}/reference",
        reference_image,
        methods=["GET"],
        tags=["persons"],
        response_class=Response,
        responses={
            200: {
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in sorted(set(persons.IMAGE_TYPES.values()))
                },
                "description": "The reference image, as it was enrolled (JPEG or PNG).",
            },
            **problems(*SIGNED_IN, 404),
        },
    )


def list_watchlists(
    request: Request, _: Annotated[Caller, requires(Permission.WATCHLISTS_READ)]
) -> WatchlistList:
    """Every watchlist."""
    return WatchlistList(
        items=[WatchlistPublic.model_validate(w) for w in runtime_of(request).watchlists.list_watchlists()]
    )


def list_persons(
    request: Request,
    _: Annotated[Caller, requires(Permission.WATCHLISTS_READ)],
    limit: Annotated[
        int, Query(ge=1, le=PAGE_MAX, description="Items on this page, in id order.")
    ] = PAGE_DEFAULT,
    after_id: Annotated[
        int | None, Query(ge=0, description="Cursor: only persons with an id above this one.")
    ] = None,
    watchlist: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Only this list's.")
    ] = None,
) -> PersonList:
    """Enrolled persons (pending ones too), a page at a time."""
    rows = runtime_of(request).watchlists.persons_page(limit, after_id=after_id, watchlist_name=watchlist)
    return PersonList(
        items=[PersonPublic.model_validate(p) for p in rows],
        next_after_id=rows[-1].id if len(rows) == limit else None,
    )


async def enrol_person(
    request: Request, caller: Annotated[Caller, requires(Permission.WATCHLISTS_MANAGE)]
) -> Enrolled:
    """Enrol a person from reference photos (multipart/form-data: the fields of EnrolmentForm,
    and one or more `images`, JPEG or PNG, each showing exactly one face). The person is stored
    `pending`, proposed by the caller, and matched only once a second person approves."""
    rt = runtime_of(request)
    settings = rt.settings.api
    per_image = int(settings.enrol_image_max_mb * MB)
    form = await read_form(request, max_bytes=settings.enrol_images_max * per_image + FORM_OVERHEAD)
    fields, uploads = _enrolment_of(form)
    if len(uploads) > settings.enrol_images_max:
        raise InvalidInput(f"at most {settings.enrol_images_max} photos per enrolment, got {len(uploads)}")
    max_pixels = settings.upload_max_pixels
    photos = await off_loop(
        request, lambda: [checked_photo(u, i, per_image, max_pixels) for i, u in enumerate(uploads)]
    )
    return await anyio.to_thread.run_sync(_enrol, rt, caller.actor, fields, photos)


def get_person(
    request: Request, _: Annotated[Caller, requires(Permission.WATCHLISTS_READ)], person_id: PersonId
) -> PersonPublic:
    """One enrolled person (no face data: counts of images and templates)."""
    return PersonPublic.model_validate(runtime_of(request).watchlists.get_person(person_id))


def update_person(
    request: Request,
    caller: Annotated[Caller, requires(Permission.WATCHLISTS_MANAGE)],
    person_id: PersonId,
    body: PersonUpdate,
) -> PersonUpdated:
    """Change a person's name or notes (at once) or watchlist. Moving a person onto another
    watchlist adds a member to it, so it waits for a second person to approve."""
    rt = runtime_of(request)
    updated = persons.update_person(
        rt.watchlists_as(caller.actor),
        rt.changes,
        person_id,
        name=body.display_name,
        notes=body.notes,
        watchlist=body.watchlist,
        by=caller.actor,
    )
    return PersonUpdated(
        person=PersonPublic.model_validate(updated.person),
        move_change_id=None if updated.move is None else updated.move.id,
    )


def remove_person(
    request: Request, caller: Annotated[Caller, requires(Permission.WATCHLISTS_MANAGE)], person_id: PersonId
) -> PersonRemoved:
    """Remove a person with their reference images and templates, at once and with no second
    person: erasure never waits (their pending changes are withdrawn)."""
    receipt = runtime_of(request).watchlists_as(caller.actor).remove_person(person_id)
    return PersonRemoved.model_validate(receipt)


def reference_image(
    request: Request,
    caller: Annotated[Caller, requires(Permission.WATCHLISTS_READ)],
    person_id: PersonId,
    index: Annotated[int, Query(ge=0, le=100, description="Which reference image, oldest first.")] = 0,
) -> Response:
    """A person's reference image: biometric data, so every read is audited
    (`person.reference_view`, with the image's SHA-256) before it is sent."""
    rt = runtime_of(request)
    image = persons.view_reference(rt.watchlists, rt.blobs, audit_of(rt), person_id, index, by=caller.actor)
    return Response(image.data, media_type=image.media_type, headers={"Cache-Control": "no-store"})


def _enrolment_of(form: Form) -> tuple[EnrolmentForm, list[Upload]]:
    """The text fields, each at most once (a file part under another name than `images`
    counts as a text field), and the `images` files in the order sent."""
    if IMAGE_FIELD in form.fields:
        raise InvalidInput(f"send each photo as an {IMAGE_FIELD!r} file part, with a filename")
    sent = {name: list(values) for name, values in form.fields.items()}
    for name, upload in form.files.multi_items():
        if name != IMAGE_FIELD:
            sent.setdefault(name, []).append(upload.data.decode("utf-8", "replace"))
    for name, values in sent.items():
        if len(values) > 1:
            raise InvalidInput(f"field {name!r} given twice")
    try:
        fields = EnrolmentForm.model_validate({name: values[0] for name, values in sent.items()})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
        ) from None
    uploads = form.files.getlist(IMAGE_FIELD)
    if not uploads:
        raise InvalidInput(f"give at least one reference photo as an {IMAGE_FIELD!r} file part")
    return fields, uploads


def checked_photo(upload: Upload, index: int, max_bytes: int, max_pixels: int) -> Photo:
    """Too large (413: bytes, or pixels as its header declares them, checked before decoding),
    or not a JPEG or PNG that decodes (422): refused before any model runs. Blocking: call it
    off the event loop (`uploads.off_loop`)."""
    filename = upload.filename or f"image {index + 1}"
    if len(upload.data) > max_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{filename}: {len(upload.data)} bytes; a photo may have at most {max_bytes}",
        )
    suffix = next((s for magic, s in _SIGNATURES if upload.data.startswith(magic)), None)
    if suffix is None:
        raise InvalidInput(f"{filename}: not a JPEG or PNG photo")
    decode_image(upload.data, filename, max_pixels=max_pixels)
    return Photo(filename, upload.data, suffix)


def _enrol(rt: Runtime, actor: Actor, form: EnrolmentForm, uploads: Sequence[Photo]) -> Enrolled:
    """The photos in a private working folder (removed after; `recover` sweeps a crash's), enrolled."""
    work = rt.work_dir()
    with tempfile.TemporaryDirectory(dir=work, prefix="enrol-") as folder:
        paths = []
        for i, upload in enumerate(uploads):
            path = Path(folder) / f"photo-{i}{upload.suffix}"
            path.write_bytes(upload.data)
            paths.append(path)
        service = Enrolment(
            store=rt.watchlists_as(actor),
            detector=rt.detector,
            embedder=rt.embedder,
            quality=rt.settings.quality,
        )
        try:
            person = service.enroll(
                name=form.name,
                images=paths,
                watchlist=form.watchlist,
                source=form.source,
                legal_basis=form.legal_basis,
                notes=form.notes,
                category=form.category,
                proposer=actor,
            )
        except InvalidInput as exc:  # name the upload, not the working file
            message = str(exc)
            for path, upload in zip(paths, uploads, strict=True):
                message = message.replace(str(path), upload.filename)
            raise type(exc)(message) from None
    changes = [
        c
        for c in rt.changes.list_changes(object=f"person:{person.id}")
        if c.kind in {ChangeKind.PERSON_ADD, ChangeKind.PERSON_REFERENCE}
    ]
    return Enrolled(person=PersonPublic.model_validate(person), change_id=changes[-1].id if changes else None)


def _enrolment_body() -> dict[str, Any]:
    schema = EnrolmentForm.model_json_schema()
    schema["properties"][IMAGE_FIELD] = {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "description": "Reference photos (JPEG or PNG), each showing exactly one face.",
    }
    schema["required"] = [*schema.get("required", []), IMAGE_FIELD]
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
