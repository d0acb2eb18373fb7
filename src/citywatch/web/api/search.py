"""Case search by upload: a photo of one face and the case it belongs to (legal basis, the
authorisation in force naming the cameras, a bounded window) in, the stored sightings of that
face out, nearest first. Through services.case_search, as `citywatch search`: an untargeted
search is refused and audited (`search.refused`), a search that runs is audited
(`search.photo`, the photo by its SHA-256). The upload is bounded as enrolment's is (413, and
422 for what is not a JPEG or PNG that decodes), before any model loads."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from citywatch.audit.looks import api, require_camera
from citywatch.domain.access import Permission
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import audit_of, case_searcher
from citywatch.search.cases import CaseSearch, case_search
from citywatch.search.photo import SearchHit
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.people import FORM_OVERHEAD, MB, Photo, checked_photo
from citywatch.web.api.schemas.common import SIGNED_IN, problems
from citywatch.web.api.uploads import Form, off_loop, read_form

PHOTO_FIELD = "photo"


class CaseSearchForm(BaseModel):
    """The text fields of a case search (the photo comes as the `photo` file part)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case: str = Field(min_length=1, max_length=200, description="The case the search belongs to.")
    legal_basis: str = Field(min_length=1, max_length=1000, description="The case's legal basis.")
    authorisation: str = Field(
        min_length=1,
        max_length=100,
        description="Reference of the authorisation in force naming the cameras.",
    )
    cameras: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]] = Field(
        min_length=1, max_length=200, description="Camera ids (repeat the field, or separate by commas)."
    )
    since: AwareDatetime = Field(description="Window start.")
    until: AwareDatetime | None = Field(None, description="Window end; default now.")
    limit: int | None = Field(None, ge=1, le=10_000, description="At most this many hits.")
    threshold: float | None = Field(None, ge=0.05, le=2.0, description="Farthest distance shown.")


class HitPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rank": 1,
                    "sighting_id": 412,
                    "camera_id": "gate-1",
                    "started_at": "2026-11-27T09:12:00Z",
                    "ended_at": "2026-11-27T09:12:03Z",
                    "distance": 0.38,
                    "quality": 0.82,
                    "crop_url": "/api/sightings/412/crop",
                    "clip_url": "/api/recordings/clip?camera=gate-1&since=…&until=…",
                }
            ]
        }
    )

    rank: int
    sighting_id: int
    camera_id: str
    started_at: datetime
    ended_at: datetime
    distance: float = Field(description="Distance of the sighting's face to the photo's (lower: nearer).")
    quality: float
    crop_url: str = Field(description="The sighting's face crop (an audited read).")
    clip_url: str = Field(description="The footage of the sighting, if still recorded (an audited read).")

    @classmethod
    def of(cls, h: SearchHit) -> HitPublic:
        window = f"since={_q(h.started_at)}&until={_q(h.ended_at)}"
        return cls(
            rank=h.rank,
            sighting_id=h.sighting_id,
            camera_id=h.camera_id,
            started_at=h.started_at,
            ended_at=h.ended_at,
            distance=h.distance,
            quality=h.quality,
            crop_url=f"/api/sightings/{h.sighting_id}/crop",
            clip_url=f"/api/recordings/clip?camera={h.camera_id}&{window}",
        )


class SearchResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "case": "C-2026-0042",
                    "authorisation": "W-2026-114",
                    "items": [HitPublic.model_json_schema()["examples"][0]],
                }
            ]
        }
    )

    case: str
    authorisation: str
    items: list[HitPublic] = Field(description="Nearest first.")


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    app.add_api_route(
        "/api/search",
        search,
        methods=["POST"],
        tags=["search"],
        responses=problems(*SIGNED_IN, 413, 415, 503),
        openapi_extra={"requestBody": _search_body()},
    )


async def search(
    request: Request, caller: Annotated[Caller, requires(Permission.CASE_SEARCH)]
) -> SearchResult:
    """Find the stored sightings of the face in a photo, inside a case (multipart/form-data:
    the fields of CaseSearchForm and one `photo`, JPEG or PNG, showing one face). Refused
    (422, audited) when untargeted: the authorisation must be in force, approved, name the
    cameras and cover the window, which may be no longer than `matching.search_max_window_h`."""
    rt = runtime_of(request)
    per_image = int(rt.settings.api.enrol_image_max_mb * MB)
    form = await read_form(request, max_bytes=per_image + FORM_OVERHEAD)
    fields = _fields_of(form)
    for camera in fields.cameras:
        require_camera(audit_of(rt), caller.actor, Permission.CASE_SEARCH, camera, api(request.url.path))
    upload = form.one_file(PHOTO_FIELD)
    if upload is None:
        raise InvalidInput(f"send the photo to search for as the form's {PHOTO_FIELD!r} file")
    max_pixels = rt.settings.api.upload_max_pixels
    photo = await off_loop(request, lambda: checked_photo(upload, 0, per_image, max_pixels))
    hits = await anyio.to_thread.run_sync(_search, rt, caller.actor, fields, photo)
    return SearchResult(
        case=fields.case, authorisation=fields.authorisation, items=[HitPublic.of(h) for h in hits]
    )


def _fields_of(form: Form) -> CaseSearchForm:
    """The text fields, each once but `cameras` (repeatable, or comma-separated)."""
    sent: dict[str, Any] = {}
    for name, values in form.fields.items():
        if name == "cameras":
            sent[name] = [c.strip() for v in values for c in v.split(",") if c.strip()]
        elif len(values) > 1:
            raise InvalidInput(f"field {name!r} given twice")
        else:
            sent[name] = values[0]
    for name in form.files:
        if name != PHOTO_FIELD:
            raise InvalidInput(f"only the {PHOTO_FIELD!r} field may be a file, not {name!r}")
    try:
        return CaseSearchForm.model_validate(sent)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
        ) from None


def _search(rt: Runtime, actor: Actor, fields: CaseSearchForm, photo: Photo) -> list[SearchHit]:
    """The photo in a private working folder (removed after; `recover` sweeps a crash's), searched."""
    work = rt.work_dir()
    asked = CaseSearch(
        case=fields.case,
        legal_basis=fields.legal_basis,
        authorisation=fields.authorisation,
        cameras=list(fields.cameras),
        since=fields.since,
        until=fields.until,
        limit=fields.limit,
        threshold=fields.threshold,
    )
    with tempfile.TemporaryDirectory(dir=work, prefix="search-") as folder:
        path = Path(folder) / f"photo{photo.suffix}"
        path.write_bytes(photo.data)
        try:
            return case_search(case_searcher(rt), path, asked, by=actor)
        except InvalidInput as exc:  # name the upload, not the working file
            raise type(exc)(str(exc).replace(str(path), photo.filename)) from None


def _q(t: datetime) -> str:
    return t.isoformat().replace("+", "%2B")


def _search_body() -> dict[str, Any]:
    schema = CaseSearchForm.model_json_schema()
    schema["properties"][PHOTO_FIELD] = {
        "type": "string",
        "format": "binary",
        "description": "A photo (JPEG or PNG) of the face to look for.",
    }
    schema["required"] = [*schema.get("required", []), PHOTO_FIELD]
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
