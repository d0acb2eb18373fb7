"""The live alert feed's latency: from an alert stored to its event on a server-sent-events client."""

from __future__ import annotations

import queue
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx

from citywatch.bench.api_fill import MODEL, Person, add_people
from citywatch.bench.progress import Progress, quiet
from citywatch.domain.matching import Candidate, MatchDecision, MatchResult
from citywatch.domain.records import SightingRecord
from citywatch.runtime.build import Runtime


def feed_latency(
    rt: Runtime, base_url: str, token: str, *, alerts: int, progress: Progress = quiet
) -> list[float]:
    """Milliseconds from each alert's commit (the store returns) to its event on an SSE client
    reading the real server's stream."""
    events: queue.Queue[tuple[int, float]] = queue.Queue()
    opened = threading.Event()
    stop = threading.Event()

    def read() -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=60)) as client,
            client.stream(
                "GET", f"{base_url}/api/alerts/stream", headers={"Authorization": f"Bearer {token}"}
            ) as response,
        ):
            opened.set()
            for line in response.iter_lines():
                if line.startswith("id:"):
                    events.put((int(line[3:].strip()), time.perf_counter()))
                if stop.is_set():
                    return

    reader = threading.Thread(target=read, name="bench-sse", daemon=True)
    reader.start()
    if not opened.wait(10):
        raise RuntimeError("the alert stream did not open")
    time.sleep(0.2)
    person = add_people(rt, 1)[0]
    latencies = []
    for i in range(alerts):
        at = datetime.now(UTC)
        record = _matched(f"feed-cam-{i:03d}", i, at, person)
        saved = rt.sightings.add_sighting(record)
        stored = time.perf_counter()
        while True:
            alert_id, arrived = events.get(timeout=10)
            if alert_id == saved.alert_id:
                latencies.append(max(arrived - stored, 0.0) * 1000)  # seen before the return: 0
                break
        progress("live feed", i + 1, alerts)
        time.sleep(0.05)
    stop.set()
    return latencies


def _matched(camera: str, track: int, at: datetime, person: Person) -> SightingRecord:
    best = Candidate(*person, 0.31)
    match = MatchResult(MatchDecision.MATCH, best, None, 0.55, 0.04)
    return SightingRecord(
        camera, track, at, at + timedelta(seconds=2), 5, 0.8, b"\xff\xd8\xff\xd9", MODEL, None, match
    )
