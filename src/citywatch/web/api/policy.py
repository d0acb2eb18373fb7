"""Policy routes: the rules and the mode each camera is in at a moment, with the reasons
(`citywatch policy show`: domain.policy.mode_for over the governance snapshot), and adding
or removing a rule through the governance service, which audits it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request, Response, status
from pydantic import AliasPath, AwareDatetime, BaseModel, ConfigDict, Field

from citywatch.domain.access import Permission, can
from citywatch.domain.policy import CameraPlace, ProcessingMode, Window, mode_for
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.schemas.common import SIGNED_IN, problems

RuleId = Annotated[int, Path(ge=1, description="The rule's id.")]
CameraId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class RuleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"mode": "detect", "zone": "town-hall-square"}]},
    )

    mode: ProcessingMode = Field(description="The mode for the camera, or every camera of the zone.")
    camera: CameraId | None = Field(None, description="One camera (or a zone, not both).")
    zone: str | None = Field(None, min_length=1, max_length=100, description="Every camera of a zone.")
    starts_at: AwareDatetime | None = Field(None, description="From; default: no start.")
    ends_at: AwareDatetime | None = Field(None, description="Until; default: no end.")


class RulePublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "mode": "detect",
                    "camera": None,
                    "zone": "town-hall-square",
                    "starts_at": None,
                    "ends_at": None,
                }
            ]
        },
    )

    id: int
    mode: ProcessingMode
    camera: str | None
    zone: str | None
    starts_at: datetime | None = Field(validation_alias=AliasPath("window", "start"))
    ends_at: datetime | None = Field(validation_alias=AliasPath("window", "end"))


class CameraModePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "camera": "gate-1",
                    "configured": True,
                    "location": [51.5007, -0.1246],
                    "requested": "watchlist",
                    "mode": "detect",
                    "authorisations": [],
                    "watchlists": [],
                    "reasons": ["no authorisation in force names camera gate-1"],
                }
            ]
        }
    )

    camera: str
    configured: bool = Field(description="In the configuration (else asked for by `camera`).")
    location: tuple[float, float] | None = Field(description="[lat, lon]; none: no part in order checks.")
    requested: ProcessingMode = Field(description="What configuration and rules ask for.")
    mode: ProcessingMode = Field(description="What holds, after authorisations, zones and events.")
    authorisations: list[str]
    watchlists: list[str]
    reasons: list[str] = Field(description="Why the mode is lower than requested, if it is.")


class PolicyPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "at": "2026-11-27T10:00:00Z",
                    "rules": [RulePublic.model_json_schema()["examples"][0]],
                    "cameras": [CameraModePublic.model_json_schema()["examples"][0]],
                }
            ]
        }
    )

    at: datetime
    rules: list[RulePublic]
    cameras: list[CameraModePublic] = Field(description="The cameras within your scope.")


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    policy: list[str | Enum] = ["policy"]
    app.add_api_route(
        "/api/policy", show_policy, methods=["GET"], tags=policy, responses=problems(*SIGNED_IN)
    )
    app.add_api_route(
        "/api/policy/rules",
        add_rule,
        methods=["POST"],
        tags=policy,
        status_code=status.HTTP_201_CREATED,
        responses=problems(*SIGNED_IN, 404),
    )
    app.add_api_route(
        "/api/policy/rules/{rule_id}",
        remove_rule,
        methods=["DELETE"],
        tags=policy,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=problems(*SIGNED_IN, 404),
    )


def show_policy(
    request: Request,
    caller: Annotated[Caller, requires(Permission.POLICY_READ)],
    *,
    at: Annotated[AwareDatetime | None, Query(description="At this moment; default now.")] = None,
    camera: Annotated[
        list[CameraId] | None, Query(max_length=200, description="Also decide for these camera ids.")
    ] = None,
) -> PolicyPublic:
    """The rules, and the mode each camera (within your scope) is in at `at`, with the reasons."""
    rt = runtime_of(request)
    moment = at or datetime.now(UTC)
    snapshot = rt.governance.snapshot()
    places = [(CameraPlace(c.id, c.mode, c.geo), True) for c in rt.cameras()]
    known = {p.id for p, _ in places}
    places += [(CameraPlace(c), False) for c in dict.fromkeys(camera or []) if c not in known]
    cameras = []
    for place, configured in places:
        if not can(caller.actor, Permission.POLICY_READ, place.id):
            continue
        d = mode_for(place, snapshot, moment)
        cameras.append(
            CameraModePublic(
                camera=place.id,
                configured=configured,
                location=None if place.location is None else (place.location.lat, place.location.lon),
                requested=d.requested,
                mode=d.mode,
                authorisations=sorted(a.reference for a in d.authorisations),
                watchlists=sorted(d.watchlists),
                reasons=list(d.reasons),
            )
        )
    return PolicyPublic(
        at=moment, rules=[RulePublic.model_validate(r) for r in snapshot.rules], cameras=cameras
    )


def add_rule(
    request: Request, caller: Annotated[Caller, requires(Permission.POLICY_MANAGE)], body: RuleCreate
) -> RulePublic:
    """Add a policy rule for one camera or every camera of a zone. Rules override the
    configured mode; where several hold, the most restrictive wins. Identification still
    needs an authorisation."""
    rt = runtime_of(request)
    rule = rt.governance.add_rule(
        body.mode,
        camera=body.camera,
        zone=body.zone,
        window=Window(body.starts_at, body.ends_at),
        by=caller.actor,
    )
    rt.policy.refresh()
    return RulePublic.model_validate(rule)


def remove_rule(
    request: Request, caller: Annotated[Caller, requires(Permission.POLICY_MANAGE)], rule_id: RuleId
) -> Response:
    """Remove a policy rule."""
    rt = runtime_of(request)
    rt.governance.remove_rule(rule_id, by=caller.actor)
    rt.policy.refresh()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
