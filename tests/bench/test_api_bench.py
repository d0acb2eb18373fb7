"""The API benchmark on a small size: what it fills is really there (the audit chain still
verifies), every timed route answers 200 and one that does not stops the bench, the case search
is timed with a real face, the feed delivers each alert, and the command writes its report
(and fails on a failing call); and the server answers keep-alive requests without the
delayed-ACK stall."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from citywatch.bench.api_feed import feed_latency
from citywatch.bench.api_fill import Fill, fill
from citywatch.bench.api_report import ApiReport, api_markdown
from citywatch.bench.api_timing import (
    BenchFailed,
    prepare_search,
    routes_to_time,
    sign_in_users,
    time_routes,
    time_search,
)
from citywatch.cli.main import explain
from citywatch.config.api import ApiSettings
from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.store.audit_tables import AuditRecord
from citywatch.store.sighting_tables import Alert, Sighting
from citywatch.web.api.server import ApiServer
from citywatch.web.app import create_app
from tests.conftest import shared_data_dir
from tests.integration.cli_helpers import citywatch

META = {"command": "citywatch bench api", "date": "today", "machine": "here"}


SEARCH_PHOTO = Path("face_recognition/examples/lin-manuel-miranda.png")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Runtime, ApiServer]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        models_dir=shared_data_dir() / "models",  # loaded only by the case search
        api=ApiSettings(enabled=True, port=0, shutdown_s=1),
    )
    rt = build_runtime(settings)
    server = ApiServer(create_app(rt), settings.api, rt.feed)
    server.start()
    yield rt, server
    server.stop()
    rt.close()


def test_fill_time_and_feed_on_a_small_size(served: tuple[Runtime, ApiServer]) -> None:
    rt, server = served
    filled = fill(rt, sightings=1000, alerts=100, audit=1000, cameras=5, days=3)
    assert (filled.sightings, filled.alerts, filled.audit) == (1000, 100, 1000)
    with rt.database.session(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Sighting)) == 1000
        assert s.scalar(select(func.count()).select_from(Alert)) == 100
        assert s.scalar(select(func.count()).select_from(AuditRecord)) >= 1000
        cameras = s.scalars(select(Sighting.camera_id).distinct()).all()
        assert set(cameras) <= {f"cam-{i:04d}" for i in range(5)}
    verdict = rt.audit_log.verify()
    assert verdict.ok, verdict.reason  # chained and checkpointed as the audit log writes them

    tokens = sign_in_users(rt)
    routes = routes_to_time(rt, console=True)
    timings = time_routes(server.url, routes, tokens, requests=3)
    assert [t.name for t in timings] == [name for name, _, _ in routes]
    for t in timings:
        assert t.status == 200, t.path
        assert 0 < t.p50_ms <= t.p95_ms <= t.p99_ms <= t.max_ms

    latencies = feed_latency(rt, server.url, tokens["supervisor"], alerts=3)
    assert len(latencies) == 3 and all(0 <= ms < 1000 for ms in latencies)

    report = ApiReport(filled, timings, latencies)
    text = api_markdown(report, META)
    assert "| alerts, first page" in text and "Live alert feed: 3 alerts" in text
    assert "Case search: not timed" in text


def test_a_call_that_fails_stops_the_bench(served: tuple[Runtime, ApiServer]) -> None:
    """A fast error is no timing: 'p95 < 200 ms: yes' over 4xx or 5xx answers would lie."""
    rt, server = served
    tokens = sign_in_users(rt)
    fine = ("alerts", "/api/alerts?limit=5", "supervisor")
    for failing in (
        ("alerts, bad limit", "/api/alerts?limit=0", "supervisor"),  # 422
        ("audit as a supervisor", "/api/audit?limit=5", "supervisor"),  # 403
        ("nowhere", "/api/nowhere", "supervisor"),  # 404
    ):
        with pytest.raises(BenchFailed, match=rf"{re.escape(failing[1])} answered 4\d\d"):
            time_routes(server.url, [fine, failing], tokens, requests=2)
    assert explain(BenchFailed("alerts: GET /api/alerts answered 500")) == (
        1,
        "alerts: GET /api/alerts answered 500",
    )  # `citywatch bench api` prints it and exits non-zero


@pytest.mark.data
def test_the_case_search_is_timed_with_a_real_face(
    served: tuple[Runtime, ApiServer], shared_data: Path
) -> None:
    rt, server = served
    fill(rt, sightings=200, alerts=10, audit=10, cameras=2, days=1)
    tokens = sign_in_users(rt)
    fields = prepare_search(rt, ["cam-0000"])
    photo = (shared_data / SEARCH_PHOTO).read_bytes()
    timing = time_search(
        server.url, tokens["investigator"], photo, fields, requests=2, filename=SEARCH_PHOTO.name
    )
    assert (timing.method, timing.path, timing.status, timing.requests) == ("POST", "/api/search", 200, 2)
    assert 0 < timing.p50_ms <= timing.max_ms
    # the filled log holds synthetic search.photo records too, on `searchs:` objects
    searched = [
        e for e in rt.audit_log.entries() if e.action == "search.photo" and e.object.startswith("photo-")
    ]
    assert len(searched) == 4  # two warm-up calls and two timed, each audited as a real search
    with pytest.raises(BenchFailed, match="answered 422"):  # outside the authorisation
        time_search(server.url, tokens["investigator"], photo, fields | {"cameras": "cam-0001"}, requests=1)
    report = ApiReport(Fill(200, 10, 10, 2, 1, 0.0), [timing], [])
    assert "| case search (one photo) (`POST /api/search`) | 2 | 200 |" in api_markdown(report, META)


def test_keep_alive_requests_do_not_wait_for_a_delayed_ack(served: tuple[Runtime, ApiServer]) -> None:
    """Without TCP_NODELAY each keep-alive response waited ~40 ms (found by this benchmark)."""
    _, server = served
    assert server._socket is not None
    assert server._socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    with httpx.Client(base_url=server.url) as client:
        client.get("/healthz")
        started = time.perf_counter()
        for _ in range(10):
            client.get("/healthz")
        assert (time.perf_counter() - started) / 10 < 0.03


def test_the_command_writes_its_report(tmp_path: Path, shared_data: Path) -> None:
    res = citywatch(
        tmp_path,
        shared_data,
        "bench",
        "api",
        "--sightings",
        "1000",
        "--alerts",
        "50",
        "--audit",
        "1000",
        "--requests",
        "3",
        "--feed-alerts",
        "3",
        "--search-photo",
        str(shared_data / SEARCH_PHOTO),
        "--search-requests",
        "2",
        "--out",
        "report",
        timeout=300,
    )
    assert res.code == 0, res.stderr
    data = json.loads((tmp_path / "report/api.json").read_text())
    assert data["fill"]["sightings"] == 1000
    assert all(r["status"] == 200 for r in data["routes"])
    [search] = [r for r in data["routes"] if r["path"] == "/api/search"]
    assert (search["method"], search["requests"]) == ("POST", 2)
    assert data["feed"]["alerts"] == 3
    assert "p95" in (tmp_path / "report/api.md").read_text()
    assert "alerts, first page: p50" in res.stdout and "case search (one photo): p50" in res.stdout
