"""One run of `citywatch bench api`: its sizes, and the fill, the timings and the feed in turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citywatch.bench.api_feed import feed_latency
from citywatch.bench.api_fill import fill
from citywatch.bench.api_report import ApiReport
from citywatch.bench.api_timing import prepare_search, routes_to_time, sign_in_users, time_routes, time_search
from citywatch.bench.progress import on_progress
from citywatch.runtime.build import Runtime


@dataclass(frozen=True, slots=True)
class ApiSize:
    """What the bench stores (sightings, alerts and audit records over cameras and days) and
    how many calls it times (per route, through the live feed, of the case search)."""

    sightings: int
    alerts: int
    audit: int
    cameras: int
    days: int
    requests: int
    feed_alerts: int
    search_requests: int


def measure_api(
    rt: Runtime,
    serve: Callable[[], str],
    size: ApiSize,
    *,
    search_photo: Path | None,
    status: Callable[[str], None],
) -> ApiReport:
    """API benchmark: a database filled to size (sightings, alerts, chained audit records), then
    the list routes and the case search by photo timed over HTTP against the real server, and the
    live feed's latency from an alert stored to its arrival on a server-sent-events client. A
    timed call that does not succeed (not 2xx) stops the bench: a fast error is no timing.

    `serve` starts the server once the data and its users are in, and returns its URL; the case
    search is timed only with a `search_photo`; `status` hears how far the bench has come."""
    progress = on_progress(status)
    filled = fill(
        rt,
        sightings=size.sightings,
        alerts=size.alerts,
        audit=size.audit,
        cameras=size.cameras,
        days=size.days,
        progress=progress,
    )
    tokens = sign_in_users(rt)
    url = serve()
    report = ApiReport(filled)
    routes = routes_to_time(rt, console=True)
    report.routes = time_routes(url, routes, tokens, requests=size.requests, progress=progress)
    if search_photo is not None:
        status("timing the case search…")
        fields = prepare_search(rt, ["cam-0000"])  # the busiest camera
        report.routes.append(
            time_search(
                url,
                tokens["investigator"],
                search_photo.read_bytes(),
                fields,
                requests=size.search_requests,
                filename=search_photo.name,
            )
        )
    report.feed_ms = feed_latency(rt, url, tokens["supervisor"], alerts=size.feed_alerts, progress=progress)
    return report
