"""Recorded footage routes: a camera's segments in a time window, and a clip cut from them
(services.footage.export_clip, as `citywatch clip`), at most `api.clip_max_s` long, returned
as one MP4.

Reading footage is audited: listing the segments (`recording.view`) and every clip
(`clip.export`, written before the clip can be read, as the command line writes it), within
the caller's camera scope (a refusal is audited too)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from citywatch.audit.looks import api, require_camera
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.retention.footage import (
    ClipExport,
    clip_basis,
    clip_event,
    clip_in_clear,
    cut_clip,
    view_recordings,
)
from citywatch.runtime.usecases import audit_of, clips
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import NEXT_BEFORE_ID, PAGE_DEFAULT, BeforeId, Limit
from citywatch.web.api.schemas.common import SIGNED_IN, problems

Camera = Annotated[
    str, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="The camera's id (within your scope).")
]
Since = Annotated[AwareDatetime, Query(description="Window start (with a timezone).")]
Until = Annotated[AwareDatetime, Query(description="Window end (with a timezone).")]
Case = Annotated[
    str | None,
    Query(
        min_length=1, max_length=200, description="The case the clip is opened for (recorded in its audit)."
    ),
]
AuthorisationRef = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="The authorisation the case runs under (recorded in its audit).",
    ),
]
MP4 = "video/mp4"


class SegmentPublic(BaseModel):
    """A recorded footage segment: one whole MP4 of one camera (its file is not named)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 812,
                    "camera_id": "gate-1",
                    "started_at": "2026-11-27T09:00:00Z",
                    "ended_at": "2026-11-27T09:01:00Z",
                    "duration_s": 60.0,
                    "size": 4718592,
                    "sha256": "9f2c…",
                }
            ]
        },
    )

    id: int
    camera_id: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    size: int
    sha256: str


class SegmentList(BaseModel):
    items: list[SegmentPublic] = Field(description="Newest first.")
    next_before_id: int | None = Field(description=NEXT_BEFORE_ID)


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    app.add_api_route(
        "/api/recordings",
        list_recordings,
        methods=["GET"],
        tags=["recordings"],
        responses=problems(*SIGNED_IN, 404),
    )
    app.add_api_route(
        "/api/recordings/clip",
        clip,
        methods=["GET"],
        tags=["recordings"],
        response_class=FileResponse,
        responses={
            200: {
                "content": {MP4: {"schema": {"type": "string", "format": "binary"}}},
                "description": "The clip (stream copy of the recorded footage).",
            },
            **problems(*SIGNED_IN, 404, 503),
        },
    )


def list_recordings(
    request: Request,
    caller: Annotated[Caller, requires(Permission.SIGHTINGS_READ)],
    *,
    camera: Camera,
    since: Since,
    until: Until,
    limit: Limit = PAGE_DEFAULT,
    before_id: BeforeId = None,
) -> SegmentList:
    """The camera's footage segments that overlap the window, newest first. Audited
    (`recording.view`): which segments, by whom."""
    rows, next_before = view_recordings(
        clips(runtime_of(request)),
        caller.actor,
        camera,
        since,
        until,
        limit=limit,
        before_id=before_id,
        asked=api(request.url.path),
    )
    return SegmentList(items=[SegmentPublic.model_validate(s) for s in rows], next_before_id=next_before)


def clip(
    request: Request,
    caller: Annotated[Caller, requires(Permission.SIGHTINGS_READ)],
    *,
    camera: Camera,
    since: Since,
    until: Until,
    case: Case = None,
    authorisation: AuthorisationRef = None,
) -> FileResponse:
    """The camera's recorded footage from `since` to `until` as one MP4 (copied, not
    re-encoded; it starts at the keyframe at or before `since`), at most `api.clip_max_s`
    long. Audited as `clip.export` with the window, the segments used, the clip's SHA-256
    and the case (and authorisation) it was opened for, if given, before it is sent. A named
    authorisation must be on record (else 404), in force, approved and name the camera (else
    403); a case needs one (else 422): refusals are audited as `clip.refused`. Faces show only
    in a clip opened for a case under such an authorisation, or of a camera that identified
    throughout the window; any other clip has every frame obscured whole, re-encoded
    (`X-Citywatch-Blurred: yes`, and `blurred` in its audit record)."""
    rt = runtime_of(request)
    require_camera(audit_of(rt), caller.actor, Permission.SIGHTINGS_READ, camera, api(request.url.path))
    cutting = clips(rt)
    clip_basis(
        cutting, camera, since, until, case=case or "", authorisation=authorisation or "", by=caller.actor
    )
    start, end = since.astimezone(UTC), until.astimezone(UTC)
    longest_s = rt.settings.api.clip_max_s
    if (end - start).total_seconds() > longest_s:
        raise InvalidInput(
            f"a clip may be at most {longest_s:g} s long (api.clip_max_s), this window is "
            f"{(end - start).total_seconds():g} s: ask for a shorter one, or export the footage"
        )
    name = f"clip-{camera}-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}.mp4"
    work = rt.work_dir()
    # on the data volume (an unredacted cut never lies in the system's /tmp); removed once sent
    folder = Path(tempfile.mkdtemp(dir=work, prefix="clip-"))

    def publish(export: ClipExport) -> None:
        event = clip_event(
            export, delivered_as=f"download:{name}", case=case or "", authorisation=authorisation or ""
        )
        rt.audit(event, actor=caller.actor)

    clear = clip_in_clear(cutting, camera, start, end, case=case or "", authorisation=authorisation or "")
    try:
        export = cut_clip(cutting, camera, start, end, folder / name, clear=clear, publish=publish)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        export.path,
        media_type=MP4,
        filename=name,
        headers={
            "Cache-Control": "no-store",
            "X-Content-SHA256": export.sha256,
            "X-Citywatch-Blurred": "yes" if export.blurred else "no",
        },
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
