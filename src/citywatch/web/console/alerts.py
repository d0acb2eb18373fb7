"""The live alert feed: the latest alerts a page at a time (as `GET /api/alerts` pages them),
each as a card with the sighting's crop next to the person's watchlist image, similarity,
margin and the threshold in force; the page's script follows `/api/alerts/stream` and asks
for each new alert's card here. Viewing is audited as the API audits it (`alert.view`); the
images are separate reads through their own audited routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import FastAPI, Path, Query, Request, Response

from citywatch.alerts import views as alerts
from citywatch.alerts.review import CONFIRMATIONS_NEEDED
from citywatch.audit.looks import api
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput
from citywatch.domain.records import AlertInfo
from citywatch.domain.watchlists import AlertStatus
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import alert_views, sighting_views
from citywatch.sightings import views as sightings
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import BeforeId, Limit
from citywatch.web.api.schemas.common import PAGE_DEFAULT
from citywatch.web.console.render import add_page, render

AlertId = Annotated[int, Path(ge=1, description="The alert's id.")]


@dataclass(frozen=True, slots=True)
class AlertCard:
    """One alert as the feed shows it: the alert, how close the face was and by what rule."""

    alert: AlertInfo
    camera_name: str
    similarity: float
    """1 − distance: higher is closer."""
    threshold: float
    """The distance under which this watchlist matches (its own, else the default)."""
    margin: float | None
    """How much farther the runner-up person was (None: purged, or no runner-up)."""
    margin_needed: float
    confirmed_by: tuple[str, ...]
    crop: bool
    """Whether the sighting (and so its crop) is still stored."""


@dataclass(frozen=True, slots=True)
class Allowed:
    """What the caller may do on the feed: act, and see each of the two images."""

    act: bool
    crops: bool
    persons: bool

    @classmethod
    def of(cls, actor: Actor) -> Allowed:
        return cls(
            act=can(actor, Permission.ALERTS_ACT),
            crops=can(actor, Permission.SIGHTINGS_READ),
            persons=can(actor, Permission.WATCHLISTS_READ),
        )


def add_routes(app: FastAPI) -> None:

    add_page(app, "/console/alerts", alerts_page)
    add_page(app, "/console/alerts/{alert_id}/card", alert_card)


def alerts_page(
    request: Request,
    caller: Annotated[Caller, requires(Permission.ALERTS_READ)],
    *,
    camera_choice: Annotated[str, Query(alias="camera", max_length=200)] = "",
    status_choice: Annotated[str, Query(alias="status", max_length=40)] = "",
    before_id: BeforeId = None,
    limit: Limit = PAGE_DEFAULT,
) -> Response:
    """The filter form sends empty fields for 'all cameras' and 'any state'."""
    rt = runtime_of(request)
    actor = caller.actor
    camera = camera_choice.strip() or None
    status = _status(status_choice)
    rows = alerts.view_page(
        alert_views(rt),
        actor,
        limit=limit,
        before_id=before_id,
        status=status,
        camera=camera,
        asked=api(request.url.path),
    )
    return render(
        request,
        "alerts.html",
        caller,
        cards=cards_of(rt, rows),
        allowed=Allowed.of(actor),
        cameras=[c for c in rt.cameras() if can(actor, Permission.ALERTS_READ, c.id)],
        statuses=list(AlertStatus),
        camera=camera or "",
        status=status or "",
        before_id=before_id,
        next_before_id=rows[-1].id if len(rows) == limit else None,
        query=urlencode({k: v for k, v in (("camera", camera), ("status", status)) if v}),
        live=before_id is None,
        confirmations_needed=CONFIRMATIONS_NEEDED,
    )


def alert_card(
    request: Request, caller: Annotated[Caller, requires(Permission.ALERTS_READ)], alert_id: AlertId
) -> Response:
    """One alert's card (an HTML fragment): the feed adds it as the alert arrives, and puts
    it back after a review step. Audited (`alert.view`)."""
    rt = runtime_of(request)
    alert = alerts.view_one(alert_views(rt), caller.actor, alert_id, asked=api(request.url.path))
    return render(
        request,
        "alert_card.html",
        caller,
        card=cards_of(rt, [alert])[0],
        allowed=Allowed.of(caller.actor),
        confirmations_needed=CONFIRMATIONS_NEEDED,
    )


def _status(value: str) -> AlertStatus | None:
    value = value.strip()
    if not value:
        return None
    try:
        return AlertStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in AlertStatus)
        raise InvalidInput(f"no alert status {value[:40]!r} (known: {known})") from None


def cards_of(rt: Runtime, rows: list[AlertInfo]) -> list[AlertCard]:
    """The cards of `rows`, with a fixed number of queries however many there are."""
    matching = rt.settings.matching
    watchlists = {w.id: w for w in rt.watchlists.list_watchlists()}
    names = {c.id: c.name for c in rt.cameras()}
    confirmed = rt.alert_reviews.confirmed_by([a.id for a in rows])
    margins = sightings.margins_of(sighting_views(rt), [a.sighting_id for a in rows])
    cards = []
    for a in rows:
        wl = watchlists.get(a.watchlist_id) if a.watchlist_id is not None else None
        # a sighting purged since is absent: the alert stays, its face does not
        crop = a.sighting_id in margins
        margin = margins.get(a.sighting_id)
        cards.append(
            AlertCard(
                alert=a,
                camera_name=names.get(a.camera_id, a.camera_id),
                similarity=1.0 - a.distance,
                threshold=matching.threshold if wl is None or wl.threshold is None else wl.threshold,
                margin=margin,
                margin_needed=matching.margin if wl is None or wl.margin is None else wl.margin,
                confirmed_by=confirmed.get(a.id, ()),
                crop=crop,
            )
        )
    return cards
