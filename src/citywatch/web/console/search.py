"""The case search page: pick a case's authorisation (approved, in force, naming cameras in
the caller's scope), upload a photo, choose the window and cameras; the page's script posts
to `POST /api/search` (audited there) and draws the ranked sightings on a timeline, their
crops (`/api/sightings/{id}/crop`, audited) and a clip of each (`/api/recordings/clip`,
audited). The page itself reads only the authorisations and the camera list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import FastAPI, Request, Response

from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Actor
from citywatch.domain.policy import AuthorisationStatus
from citywatch.runtime.build import Runtime
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.console.render import add_page, render

CLIP_PAD_S = 5
"""Footage shown before and after a sighting when its clip is opened."""


@dataclass(frozen=True, slots=True)
class CaseChoice:
    """An authorisation a case search may run under now, limited to the caller's cameras."""

    reference: str
    legal_basis: str
    objective: str
    cameras: list[str]
    starts_at: datetime | None
    ends_at: datetime | None


def add_routes(app: FastAPI) -> None:

    add_page(app, "/console/search", search_page)


def search_page(request: Request, caller: Annotated[Caller, requires(Permission.CASE_SEARCH)]) -> Response:
    rt = runtime_of(request)
    now = datetime.now(UTC)
    cases = cases_for(rt, caller.actor, now)
    names = {c.id: c.name for c in rt.cameras()}
    return render(
        request,
        "search.html",
        caller,
        cases=cases,
        camera_names=names,
        max_window_h=rt.settings.matching.search_max_window_h,
        threshold=rt.settings.matching.search_threshold,
        limit=rt.settings.matching.search_limit,
        clip_pad_s=CLIP_PAD_S,
        now=now,
        default_since=now - timedelta(hours=min(24.0, rt.settings.matching.search_max_window_h)),
    )


def cases_for(rt: Runtime, actor: Actor, now: datetime) -> list[CaseChoice]:
    """Authorisations approved and in force now (an urgent one not yet approved may not serve
    a case search), with the cameras they name that the caller may search."""
    rt.governance.enforce()  # what a lapsed authorisation derived is gone before anyone looks
    choices = []
    for info in rt.governance.authorisations():
        a = info.authorisation
        if info.closed_at is not None or a.status is not AuthorisationStatus.APPROVED or not a.in_force(now):
            continue
        cameras = sorted(c for c in a.cameras if can(actor, Permission.CASE_SEARCH, c))
        if cameras:
            choices.append(
                CaseChoice(a.reference, a.legal_basis, a.objective, cameras, a.window.start, a.window.end)
            )
    return choices
