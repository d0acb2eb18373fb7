"""The API timed over HTTP (users signed in, list routes, the case search); a call not 2xx stops it."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
from sqlalchemy import func, select

from citywatch.bench.progress import Progress, quiet
from citywatch.domain.audit import Actor
from citywatch.domain.errors import CitywatchError
from citywatch.domain.policy import AuthorisationStatus
from citywatch.governance.records import NewAuthorisation
from citywatch.runtime.build import Runtime
from citywatch.store.audit_tables import AuditRecord
from citywatch.store.sighting_tables import Alert, Sighting

ROLES = {
    "bench-admin": "admin",
    "bench-sup": "supervisor",
    "bench-aud": "auditor",
    "bench-inv": "investigator",
}
SECOND_SUPERVISOR = "bench-sup-2"
"""Approves the case search's authorisation: its requester may not (two-person rule)."""
SEARCH_AUTHORISATION = "BENCH-W-1"
SEARCH_WINDOW = timedelta(hours=1)


class BenchFailed(CitywatchError):
    """A timed call did not succeed: the bench stops rather than report its timing."""


@dataclass(frozen=True, slots=True)
class RouteTiming:
    name: str
    path: str
    user: str
    requests: int
    status: int
    """The one status every timed call answered (any other stops the bench)."""
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    method: str = "GET"


def sign_in_users(rt: Runtime) -> dict[str, str]:
    """A user per role the routes need, each with a token (role name → token) they issued
    themselves, signed in with a one-off password nobody else keeps."""
    tokens = {}
    for name, role in ROLES.items():
        password = secrets.token_urlsafe(18)
        rt.users.add_user(name, role, password=password)
        tokens[role] = rt.users.issue_own_token(name, password, "bench").token
    return tokens


def routes_to_time(rt: Runtime, console: bool) -> list[tuple[str, str, str]]:
    """(name, path, role) of each list or search route to time, with cursors deep in the data."""
    with rt.database.session(write=False) as session:
        lowest_alert = session.scalar(select(func.min(Alert.id))) or 1
        lowest_sighting = session.scalar(select(func.min(Sighting.id))) or 1
        lowest_seq = session.scalar(select(func.min(AuditRecord.seq))) or 1
        busy = session.scalar(
            select(Alert.camera_id).group_by(Alert.camera_id).order_by(func.count().desc()).limit(1)
        )
        quiet = session.scalar(
            select(Alert.camera_id).group_by(Alert.camera_id).order_by(func.count()).limit(1)
        )
    busy, quiet = busy or "cam-0000", quiet or "cam-0000"
    week_ago = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    routes = [
        ("alerts, first page", "/api/alerts?limit=50", "supervisor"),
        ("alerts, deep page", f"/api/alerts?limit=50&before_id={lowest_alert + 100}", "supervisor"),
        ("alerts, busiest camera", f"/api/alerts?limit=50&camera={busy}", "supervisor"),
        ("alerts, quietest camera", f"/api/alerts?limit=50&camera={quiet}", "supervisor"),
        (
            "alerts, quietest camera, deep",
            f"/api/alerts?limit=50&camera={quiet}&before_id={lowest_alert + 100}",
            "supervisor",
        ),
        ("alerts, status new", "/api/alerts?limit=50&status=new", "supervisor"),
        ("sightings, first page", "/api/sightings?limit=50", "supervisor"),
        ("sightings, deep page", f"/api/sightings?limit=50&before_id={lowest_sighting + 500}", "supervisor"),
        ("sightings, quietest camera", f"/api/sightings?limit=50&camera={quiet}", "supervisor"),
        ("audit, first page", "/api/audit?limit=50", "auditor"),
        ("audit, deep page", f"/api/audit?limit=50&before={lowest_seq + 500}", "auditor"),
        ("audit, by action", "/api/audit?limit=50&action=search.photo", "auditor"),
        ("audit, by actor and week", f"/api/audit?limit=50&actor=supervisor-1&since={week_ago}", "auditor"),
        ("audit, by action prefix", "/api/audit?limit=50&action=alert.*", "auditor"),
        ("receipts", "/api/receipts", "auditor"),
        ("requests", "/api/requests", "supervisor"),
    ]
    if console:
        routes += [
            ("console: alerts", "/console/alerts", "supervisor"),
            ("console: audit", "/console/audit", "auditor"),
            ("console: receipts", "/console/receipts", "auditor"),
            ("console: requests", "/console/requests", "supervisor"),
        ]
    return routes


def time_routes(
    base_url: str,
    routes: list[tuple[str, str, str]],
    tokens: dict[str, str],
    *,
    requests: int,
    progress: Progress = quiet,
) -> list[RouteTiming]:
    """Each route `requests` times in turn (after two warm-up calls), one client, one at a
    time. Raises BenchFailed on the first call, warm-up included, that is not 2xx."""
    timings = []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for i, (name, path, role) in enumerate(routes):
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            call = functools.partial(client.get, path, headers=headers)
            timings.append(_timed(name, path, role, requests, call))
            progress("routes", i + 1, len(routes))
    return timings


def prepare_search(rt: Runtime, cameras: list[str]) -> dict[str, str]:
    """What a case search needs to be allowed: an authorisation naming `cameras`, requested by
    one supervisor and approved by another; returns the search's form fields (the last hour)."""
    rt.users.add_user(SECOND_SUPERVISOR, "supervisor")
    now = datetime.now(UTC)
    rt.governance.request(
        NewAuthorisation(
            reference=SEARCH_AUTHORISATION,
            issuer="bench court",
            legal_basis="bench warrant",
            objective="time the case search",
            cameras=cameras,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
        ),
        by=Actor("bench-sup", "supervisor"),
        urgent_deadline=timedelta(hours=24),
    )
    rt.governance.decide(
        SEARCH_AUTHORISATION, AuthorisationStatus.APPROVED, by=Actor(SECOND_SUPERVISOR, "supervisor")
    )
    return {
        "case": "BENCH-CASE-1",
        "legal_basis": "bench warrant",
        "authorisation": SEARCH_AUTHORISATION,
        "cameras": ",".join(cameras),
        "since": (now - SEARCH_WINDOW + timedelta(minutes=1)).isoformat(),
    }


def time_search(
    base_url: str,
    token: str,
    photo: bytes,
    fields: dict[str, str],
    *,
    requests: int,
    filename: str = "probe.png",
) -> RouteTiming:
    """`POST /api/search` with one real face photo, `requests` times (after two warm-up calls,
    the first of which loads the models): detection, embedding and the nearest-sighting query
    of a case search over the fields' cameras and window. Raises BenchFailed unless each is 2xx."""
    media = "image/png" if filename.lower().endswith(".png") else "image/jpeg"
    with httpx.Client(base_url=base_url, timeout=120) as client:
        return _timed(
            "case search (one photo)",
            "/api/search",
            "investigator",
            requests,
            lambda: client.post(
                "/api/search",
                headers={"Authorization": f"Bearer {token}"},
                data=fields,
                files=[("photo", (filename, photo, media))],
            ),
            method="POST",
        )


def _timed(
    name: str,
    path: str,
    role: str,
    requests: int,
    call: Callable[[], httpx.Response],
    *,
    method: str = "GET",
) -> RouteTiming:
    for _ in range(2):
        _succeeded(name, method, path, call())
    samples, status = [], 0
    for _ in range(requests):
        t0 = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - t0) * 1000)
        status = _succeeded(name, method, path, response)
    p = percentiles(samples)
    return RouteTiming(name, path, role, requests, status, **p, max_ms=round(max(samples), 2), method=method)


def _succeeded(name: str, method: str, path: str, response: httpx.Response) -> int:
    """The response's status, if it is 2xx; BenchFailed otherwise."""
    if not response.is_success:
        raise BenchFailed(
            f"{name}: {method} {path} answered {response.status_code}, not 2xx, so it is not timed: "
            f"{response.text[:300]}"
        )
    return response.status_code


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    p50, p95, p99 = np.percentile(samples, [50, 95, 99])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2), "p99_ms": round(float(p99), 2)}
