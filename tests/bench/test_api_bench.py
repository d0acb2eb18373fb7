"""The API benchmark on a small size: what it fills is really there (the audit chain still
verifies), every timed route answers 200, the feed delivers each alert, and the command writes
its report; and the server answers keep-alive requests without the delayed-ACK stall."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from citywatch.api.app import create_app
from citywatch.api.server import ApiServer
from citywatch.bench import api as bench
from citywatch.config.api import ApiSettings
from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.store.tables import Alert, AuditRecord, Sighting
from tests.integration.cli_helpers import citywatch


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Runtime, ApiServer]]:
    settings = Settings(data_dir=tmp_path / "data", api=ApiSettings(enabled=True, port=0, shutdown_s=1))
    rt = build_runtime(settings)
    server = ApiServer(create_app(rt), settings.api, rt.feed)
    server.start()
    yield rt, server
    server.stop()
    rt.close()


def test_fill_time_and_feed_on_a_small_size(served: tuple[Runtime, ApiServer]) -> None:
    rt, server = served
    filled = bench.fill(rt, sightings=1000, alerts=100, audit=1000, cameras=5, days=3)
    assert (filled.sightings, filled.alerts, filled.audit) == (1000, 100, 1000)
    with rt.database.session(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Sighting)) == 1000
        assert s.scalar(select(func.count()).select_from(Alert)) == 100
        assert s.scalar(select(func.count()).select_from(AuditRecord)) >= 1000
        cameras = s.scalars(select(Sighting.camera_id).distinct()).all()
        assert set(cameras) <= {f"cam-{i:04d}" for i in range(5)}
    verdict = rt.audit_log.verify()
    assert verdict.ok, verdict.reason  # chained and checkpointed as the audit log writes them

    tokens = bench.sign_in_users(rt)
    routes = bench.routes_to_time(rt, console=True)
    timings = bench.time_routes(server.url, routes, tokens, requests=3)
    assert [t.name for t in timings] == [name for name, _, _ in routes]
    for t in timings:
        assert t.status == 200, t.path
        assert 0 < t.p50_ms <= t.p95_ms <= t.p99_ms <= t.max_ms

    latencies = bench.feed_latency(rt, server.url, tokens["supervisor"], alerts=3)
    assert len(latencies) == 3 and all(0 <= ms < 1000 for ms in latencies)

    report = bench.ApiReport(filled, timings, latencies)
    text = bench.api_markdown(report, {"command": "citywatch bench api", "date": "today", "machine": "here"})
    assert "| alerts, first page" in text and "Live alert feed: 3 alerts" in text


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
        "--out",
        "report",
        timeout=300,
    )
    assert res.code == 0, res.stderr
    data = json.loads((tmp_path / "report/api.json").read_text())
    assert data["fill"]["sightings"] == 1000
    assert all(r["status"] == 200 for r in data["routes"])
    assert data["feed"]["alerts"] == 3
    assert "p95" in (tmp_path / "report/api.md").read_text()
    assert "alerts, first page: p50" in res.stdout
