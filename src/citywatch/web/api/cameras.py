"""Camera routes: the configured cameras within the caller's scope, each with the mode the
policy gives it now and why (citywatch.domain.policy.mode_for over the policy snapshot), its
state in this process, and its latest frame (faces blurred unless the mode identifies; audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from citywatch.audit.looks import api, require_camera
from citywatch.config.ingest import CameraSettings
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, AuditEvent
from citywatch.domain.errors import NotFound
from citywatch.domain.policy import CameraPlace, ModeDecision, PolicySnapshot, ProcessingMode, mode_for
from citywatch.media.images import encode_jpeg, fit_within, outline_boxes
from citywatch.pipeline.live import LiveState
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import audit_of
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.errors import ERROR_RESPONSES, ErrorBody

SNAPSHOT_MAX_SIDE = 960
"""A snapshot is for seeing the scene, not for study: its longer side at most this."""

CameraId = Annotated[str, Path(min_length=1, max_length=200, description="The camera's id.")]


class CameraPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "gate-1",
                    "name": "North gate",
                    "location": [51.5007, -0.1246],
                    "configured_mode": "watchlist",
                    "requested_mode": "watchlist",
                    "mode": "detect",
                    "reasons": ["no authorisation in force names camera gate-1"],
                    "authorisations": [],
                    "watchlists": [],
                    "state": "live",
                }
            ]
        }
    )

    id: str
    name: str
    location: tuple[float, float] | None = Field(description="[latitude, longitude], if configured.")
    configured_mode: ProcessingMode = Field(description="The mode its configuration asks for.")
    requested_mode: ProcessingMode = Field(description="What configuration and policy rules ask for now.")
    mode: ProcessingMode = Field(description="What holds now, after authorisations, zones and events.")
    reasons: list[str] = Field(description="Why the mode is lower than requested, if it is.")
    authorisations: list[str] = Field(
        description="References of the authorisations identification runs under."
    )
    watchlists: list[str] = Field(description="The watchlists this camera may match against now.")
    state: LiveState = Field(
        LiveState.NOT_RUNNING,
        description="Its worker in this process: live, stalled, reconnecting, stopped, failed, "
        "opening, or `not running`.",
    )


class CameraList(BaseModel):
    items: list[CameraPublic]


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    app.add_api_route(
        "/api/cameras", list_cameras, methods=["GET"], tags=["cameras"], responses=ERROR_RESPONSES
    )
    app.add_api_route(
        "/api/cameras/{camera_id}/snapshot",
        camera_snapshot,
        methods=["GET"],
        tags=["cameras"],
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
    """The configured cameras the caller may see, with their mode now and the reasons for it."""
    rt = runtime_of(request)
    snapshot = rt.policy.snapshot()
    now = datetime.now(UTC)
    return CameraList(
        items=[
            camera_public(camera, snapshot, now, rt.live.status(camera.id).state)
            for camera in rt.settings.cameras
            if can(caller.actor, Permission.POLICY_READ, camera.id)
        ]
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
    camera = configured(rt, camera_id)
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


def configured(rt: Runtime, camera_id: str) -> CameraSettings:
    for camera in rt.settings.cameras:
        if camera.id == camera_id:
            return camera
    raise NotFound(f"no camera {camera_id!r} is configured")


def camera_public(
    camera: CameraSettings, snapshot: PolicySnapshot, now: datetime, state: LiveState = LiveState.NOT_RUNNING
) -> CameraPublic:
    """A camera as shown: its mode now under `snapshot`, and why."""
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
    )
