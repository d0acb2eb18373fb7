"""Camera routes: the configured cameras within the caller's scope, each with the mode the
policy gives it now and why (citywatch.domain.policy.mode_for over the policy snapshot)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from citywatch.api.auth import Caller, requires, runtime_of
from citywatch.api.errors import ERROR_RESPONSES
from citywatch.audit.access import Permission, can
from citywatch.config.ingest import CameraSettings
from citywatch.domain.policy import CameraPlace, ModeDecision, PolicySnapshot, ProcessingMode, mode_for


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


class CameraList(BaseModel):
    items: list[CameraPublic]


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    app.add_api_route(
        "/api/cameras", list_cameras, methods=["GET"], tags=["cameras"], responses=ERROR_RESPONSES
    )


def list_cameras(request: Request, caller: Annotated[Caller, requires(Permission.POLICY_READ)]) -> CameraList:
    """The configured cameras the caller may see, with their mode now and the reasons for it."""
    rt = runtime_of(request)
    snapshot = rt.policy.snapshot()
    now = datetime.now(UTC)
    return CameraList(
        items=[
            _public(camera, snapshot, now)
            for camera in rt.settings.cameras
            if can(caller.actor, Permission.POLICY_READ, camera.id)
        ]
    )


def _public(camera: CameraSettings, snapshot: PolicySnapshot, now: datetime) -> CameraPublic:
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
    )
