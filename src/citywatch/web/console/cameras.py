"""The cameras page: each camera in the caller's scope with its state in this process (live,
stalled, reconnecting, stopped, failed, with the error of one that failed to open), its mode
now and why (as `GET /api/cameras` says), its latest frame through the audited snapshot route
(not for a stopped or failed camera), and a map of the located cameras and the zones drawn
server-side as SVG. The page itself holds no image."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Request, Response

from citywatch.config.ingest import CameraSettings
from citywatch.domain.access import Permission, can
from citywatch.domain.policy import CameraPlace, Zone
from citywatch.pipeline.live import LiveState, LiveStatus
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.cameras import CameraPublic, camera_public
from citywatch.web.console.render import add_page, render
from citywatch.web.console.sitemap import Pin, site_map


@dataclass(frozen=True, slots=True)
class CameraRow:
    settings: CameraSettings
    public: CameraPublic
    status: LiveStatus
    covered_by: tuple[Zone, ...]
    """The zones that name this camera or contain its location."""
    running: bool = False
    """A worker was started for it in this process (a camera that failed to open has none)."""

    @property
    def may_show_frame(self) -> bool:
        """Its worker is at work: a stopped or failed one's last frame is not shown."""
        return self.running and self.status.state not in (LiveState.STOPPED, LiveState.FAILED)

    @property
    def state_class(self) -> str:
        return slug(self.status.state)


def add_routes(app: FastAPI) -> None:

    add_page(app, "/console/cameras", cameras_page)


def cameras_page(request: Request, caller: Annotated[Caller, requires(Permission.POLICY_READ)]) -> Response:
    rt = runtime_of(request)
    actor = caller.actor
    policy = rt.policy.snapshot()
    now = datetime.now(UTC)
    zones = list(policy.zones)
    rows = []
    for record in rt.camera_records.cameras(seen_by=actor):
        camera = record.settings
        status = rt.live.status(camera.id)
        public = camera_public(record, policy, now, status.state)
        place = CameraPlace(camera.id, camera.mode, camera.geo)
        covered = tuple(z for z in zones if z.covers(place))
        rows.append(CameraRow(camera, public, status, covered, running=rt.live.worker(camera.id) is not None))
    pins = [
        Pin(
            r.settings.id,
            r.settings.name,
            r.settings.location,
            f"mode-{r.public.mode} state-{slug(r.status.state)}",
        )
        for r in rows
        if r.settings.location is not None
    ]
    return render(
        request,
        "cameras.html",
        caller,
        rows=rows,
        map=site_map(pins, zones),
        zones=zones,
        unlocated=[r for r in rows if r.settings.location is None],
        may_see_footage=can(actor, Permission.SIGHTINGS_READ),
        now=now,
    )


def slug(state: LiveState) -> str:
    return str(state).replace(" ", "-")
