"""Camera routes: the cameras of the city within the caller's scope (the configuration file's
and the camera records'), each with the mode the policy gives it now and why
(citywatch.domain.policy.mode_for over the policy snapshot), its state in this process, and its
latest frame (faces blurred unless the mode identifies; audited); and the records themselves,
added, changed and removed by whoever may manage cameras (`cameras.manage`, an admin: each
refusal audited), which a running city picks up within seconds (runtime.camera_sync). A source
is never shown with its credentials."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated

from fastapi import Body, FastAPI, Path, Request, Response, status

from citywatch.audit.looks import api, require_camera
from citywatch.cameras.records import CameraRecord, new_camera, shown_url
from citywatch.config.ingest import CAMERA_ID_PATTERN
from citywatch.domain.access import Permission
from citywatch.domain.audit import Action, AuditEvent
from citywatch.domain.policy import CameraPlace, ModeDecision, PolicySnapshot, mode_for
from citywatch.media.images import encode_jpeg, fit_within, outline_boxes
from citywatch.pipeline.live import LiveState
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import audit_of
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.errors import ERROR_RESPONSES, ErrorBody
from citywatch.web.api.schemas.cameras import (
    CameraCreate,
    CameraList,
    CameraPublic,
    CameraRemoved,
    CameraUpdate,
)
from citywatch.web.api.schemas.common import SIGNED_IN, problems

SNAPSHOT_MAX_SIDE = 960
"""A snapshot is for seeing the scene, not for study: its longer side at most this."""

CameraId = Annotated[str, Path(min_length=1, max_length=200, description="The camera's id.")]
RecordId = Annotated[str, Path(pattern=CAMERA_ID_PATTERN, description="The camera's id.")]
"""A camera id as records take them (no `..`, no `/`): anything else is refused (422)."""

__all__ = ["CameraList", "CameraPublic", "add_routes", "camera_public"]


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    route = app.add_api_route
    tags: list[str | Enum] = ["cameras"]
    route("/api/cameras", list_cameras, methods=["GET"], tags=tags, responses=ERROR_RESPONSES)
    route(
        "/api/cameras",
        add_camera,
        methods=["POST"],
        tags=tags,
        status_code=status.HTTP_201_CREATED,
        responses=problems(*SIGNED_IN, 409),
    )
    route(
        "/api/cameras/{camera_id}",
        get_camera,
        methods=["GET"],
        tags=tags,
        responses=problems(*SIGNED_IN, 404),
    )
    route(
        "/api/cameras/{camera_id}",
        change_camera,
        methods=["PATCH"],
        tags=tags,
        responses=problems(*SIGNED_IN, 404, 409),
    )
    route(
        "/api/cameras/{camera_id}",
        remove_camera,
        methods=["DELETE"],
        tags=tags,
        responses=problems(*SIGNED_IN, 404, 409),
    )
    route(
        "/api/cameras/{camera_id}/snapshot",
        camera_snapshot,
        methods=["GET"],
        tags=tags,
        response_class=Response,
        responses={
            200: {"content": {"image/jpeg": {}}, "description": "The latest frame, faces outlined."},
            **ERROR_RESPONSES,
            503: {
                "model": ErrorBody,
                "description": "The camera is not running in this process, has stopped, or has "
                "looked at no frame lately: no frame to show.",
            },
        },
    )


def list_cameras(request: Request, caller: Annotated[Caller, requires(Permission.POLICY_READ)]) -> CameraList:
    """The cameras of the city the caller may see, with their mode now and the reasons for it."""
    rt = runtime_of(request)
    snapshot, now = rt.policy.snapshot(), datetime.now(UTC)
    return CameraList(
        items=[
            camera_public(record, snapshot, now, rt.live.status(record.id).state)
            for record in rt.camera_records.cameras(seen_by=caller.actor)
        ]
    )


def get_camera(
    request: Request, caller: Annotated[Caller, requires(Permission.POLICY_READ)], camera_id: RecordId
) -> CameraPublic:
    """One camera: its record, and its mode now and why (404: none within the caller's scope)."""
    rt = runtime_of(request)
    return _shown(rt, rt.camera_records.get(camera_id, seen_by=caller.actor))


def add_camera(
    request: Request,
    caller: Annotated[Caller, requires(Permission.CAMERAS_MANAGE, audited=True)],
    body: Annotated[CameraCreate, Body()],
) -> CameraPublic:
    """Add a camera record (audited `camera.add`); a running city starts it within seconds.
    An id the configuration file declares is refused (409): the file wins for its cameras."""
    rt = runtime_of(request)
    record = rt.camera_records.add(new_camera(body.model_dump()), by=caller.actor)
    return _shown(rt, record)


def change_camera(
    request: Request,
    caller: Annotated[Caller, requires(Permission.CAMERAS_MANAGE, audited=True)],
    camera_id: RecordId,
    body: Annotated[CameraUpdate, Body()],
) -> CameraPublic:
    """Change a camera record (audited `camera.change`, its version one more); a running city
    restarts it within seconds. `version` guards against a change made meanwhile (409)."""
    rt = runtime_of(request)
    record = rt.camera_records.change(camera_id, body.change(), by=caller.actor, version=body.version)
    return _shown(rt, record)


def remove_camera(
    request: Request,
    caller: Annotated[Caller, requires(Permission.CAMERAS_MANAGE, audited=True)],
    camera_id: RecordId,
) -> CameraRemoved:
    """Remove a camera record (audited `camera.remove`); a running city stops it within
    seconds. Its footage, sightings and alerts stay until their retention ends."""
    removed = runtime_of(request).camera_records.remove(camera_id, by=caller.actor)
    return CameraRemoved(
        id=removed.record.id, version=removed.record.version, footage_kept=removed.footage_kept
    )


def camera_snapshot(
    request: Request, caller: Annotated[Caller, requires(Permission.SIGHTINGS_READ)], camera_id: CameraId
) -> Response:
    """The latest frame the camera's worker looked at (JPEG), faces outlined and pixelated
    unless that frame's mode identified and the camera's mode now (the policy's snapshot)
    still identifies: a frame seen under an authorisation that has lapsed since is shown
    blurred. Not shown at all once older than live.STALLED_AFTER_S or once its worker has
    stopped (503). Footage: sightings.read (not policy.read, which the auditor holds, who
    never sees people), within the caller's camera scope, and every read audited
    (`camera.snapshot`). Only the latest frame is kept, in memory."""
    rt = runtime_of(request)
    require_camera(audit_of(rt), caller.actor, Permission.SIGHTINGS_READ, camera_id, api(request.url.path))
    camera = rt.camera_records.get(camera_id).settings
    place = CameraPlace(camera.id, camera.mode, camera.geo)
    now_mode = mode_for(place, rt.policy.snapshot(), datetime.now(UTC)).mode
    view = rt.live.frame(camera_id, identifies_now=now_mode.identifies)
    image, _ = fit_within(outline_boxes(view.image, view.boxes), SNAPSHOT_MAX_SIDE)
    data = encode_jpeg(image, quality=80)
    event = AuditEvent(
        Action.CAMERA_SNAPSHOT,
        f"camera:{camera_id}",
        params={
            "mode": str(view.mode),
            "mode_now": str(now_mode),
            "blurred": view.blurred,
            "faces": len(view.boxes),
            "captured_at": view.captured_at.isoformat(),
        },
        result_count=1,
    )
    rt.audit(event, actor=caller.actor)
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Citywatch-Blurred": "yes" if view.blurred else "no"},
    )


def _shown(rt: Runtime, record: CameraRecord) -> CameraPublic:
    return camera_public(record, rt.policy.snapshot(), datetime.now(UTC), rt.live.status(record.id).state)


def camera_public(
    record: CameraRecord, snapshot: PolicySnapshot, now: datetime, state: LiveState = LiveState.NOT_RUNNING
) -> CameraPublic:
    """A camera as shown: its mode now under `snapshot`, and why; its source without credentials."""
    camera = record.settings
    decision: ModeDecision = mode_for(CameraPlace(camera.id, camera.mode, camera.geo), snapshot, now)
    return CameraPublic(
        id=camera.id,
        name=camera.name,
        location=camera.location,
        configured_mode=camera.mode,
        requested_mode=decision.requested,
        mode=decision.mode,
        reasons=list(decision.reasons),
        authorisations=sorted(a.reference for a in decision.authorisations),
        watchlists=sorted(decision.watchlists),
        state=state,
        source_url=shown_url(camera.url),
        source=camera.source,
        from_config=record.from_config,
        version=record.version,
        created_by=record.created_by,
        changed_by=record.changed_by,
        changed_at=record.changed_at,
    )
