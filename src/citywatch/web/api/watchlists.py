"""Watchlist routes that change one: create, and tune its threshold, margin and severity,
through the changes' service (`rt.changes`) as `citywatch watchlists create|set-*` does. A looser
threshold or margin (more faces would match) waits for a second person; stricter values and
severity apply at once. Each change is audited as the caller."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import Body, FastAPI, Path, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from citywatch.domain.access import Permission
from citywatch.domain.records import TuningResult
from citywatch.domain.watchlists import Severity, WatchlistCategory
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.changes import ChangePublic
from citywatch.web.api.people import WatchlistPublic
from citywatch.web.api.schemas.common import SIGNED_IN, problems

WatchlistName = Annotated[str, Path(min_length=1, max_length=200, description="The watchlist's name.")]


class WatchlistCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "wanted", "category": "wanted", "severity": "high", "threshold": 0.45}]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    category: WatchlistCategory = WatchlistCategory.WANTED
    severity: Severity = Severity.MEDIUM
    threshold: float | None = Field(
        None, ge=0.01, le=2.0, description="Largest distance that matches (null: the default)."
    )
    margin: float | None = Field(
        None, ge=0.0, le=1.0, description="Required lead over the runner-up (null: the default)."
    )
    expires_at: AwareDatetime | None = None


class Tuning(BaseModel):
    """What became of a threshold or margin asked for: applied, or waiting for a second person."""

    model_config = ConfigDict(from_attributes=True)

    setting: str = Field(description="`threshold` or `margin`.")
    before: float = Field(description="The value in force before.")
    requested: float
    applied: bool = Field(description="False: looser, so it waits for the change below to be approved.")
    change: ChangePublic | None


class WatchlistChanged(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "watchlist": WatchlistPublic.model_json_schema()["examples"][0],
                    "tuning": [
                        {
                            "setting": "threshold",
                            "before": 0.5,
                            "requested": 0.55,
                            "applied": False,
                            "change": None,
                        }
                    ],
                }
            ]
        }
    )

    watchlist: WatchlistPublic = Field(description="As it stands now (a pending looser value is not in it).")
    tuning: list[Tuning]


class Value(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"value": 0.45}]})

    value: float = Field(ge=0.0, le=2.0)


class SeverityValue(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"value": "high"}]})

    value: Severity


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    tags: list[str | Enum] = ["watchlists"]
    app.add_api_route(
        "/api/watchlists",
        create_watchlist,
        methods=["POST"],
        tags=tags,
        status_code=status.HTTP_201_CREATED,
        responses=problems(*SIGNED_IN, 409),
    )
    for setting, route in (("threshold", set_threshold), ("margin", set_margin), ("severity", set_severity)):
        app.add_api_route(
            f"/api/watchlists/{{name}}/{setting}",
            route,
            methods=["POST"],
            tags=tags,
            responses=problems(*SIGNED_IN, 404),
        )


def create_watchlist(
    request: Request, caller: Annotated[Caller, requires(Permission.WATCHLISTS_MANAGE)], body: WatchlistCreate
) -> WatchlistChanged:
    """Create a watchlist. A looser threshold or margin than the configured default starts at
    the default and waits for a second person; stricter ones apply at once."""
    rt = runtime_of(request)
    m = rt.settings.matching
    created = rt.changes.create_watchlist(
        rt.watchlists_as(caller.actor),
        body.name,
        caller.actor,
        category=body.category,
        threshold=body.threshold,
        margin=body.margin,
        expires_at=body.expires_at,
        severity=body.severity,
        default_threshold=m.threshold,
        default_margin=m.margin,
    )
    return WatchlistChanged(
        watchlist=WatchlistPublic.model_validate(created.watchlist),
        tuning=[Tuning.model_validate(t) for t in created.tuning],
    )


def set_threshold(
    request: Request,
    caller: Annotated[Caller, requires(Permission.WATCHLISTS_MANAGE)],
    name: WatchlistName,
    body: Annotated[Value, Body()],
) -> WatchlistChanged:
    """Lowering the threshold (stricter) applies at once; raising it waits for a second person."""
    rt = runtime_of(request)
    result = rt.changes.set_threshold(name, body.value, caller.actor, default=rt.settings.matching.threshold)
    return _changed(request, name, result)


def set_margin(
    request: Request,
    caller: Annotated[Caller, requires(Permission.WATCHLISTS_MANAGE)],
    name: WatchlistName,
    body: Annotated[Value, Body()],
) -> WatchlistChanged:
    """Raising the margin (stricter) applies at once; lowering it waits for a second person."""
    rt = runtime_of(request)
    result = rt.changes.set_margin(name, body.value, caller.actor, default=rt.settings.matching.margin)
    return _changed(request, name, result)


def set_severity(
    request: Request,
    caller: Annotated[Caller, requires(Permission.WATCHLISTS_MANAGE)],
    name: WatchlistName,
    body: Annotated[SeverityValue, Body()],
) -> WatchlistChanged:
    """What the watchlist's alerts are raised at from now on; applies at once (it changes how
    urgent an alert is, not who is matched)."""
    w = runtime_of(request).watchlists_as(caller.actor).set_watchlist_severity(name, body.value)
    return WatchlistChanged(watchlist=WatchlistPublic.model_validate(w), tuning=[])


def _changed(request: Request, name: str, result: TuningResult) -> WatchlistChanged:
    current = next(w for w in runtime_of(request).watchlists.list_watchlists() if w.name == name)
    return WatchlistChanged(
        watchlist=WatchlistPublic.model_validate(current), tuning=[Tuning.model_validate(result)]
    )
