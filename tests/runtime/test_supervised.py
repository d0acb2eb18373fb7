"""`run`'s supervisor on a real runtime: a camera worker killed from inside is restarted fresh,
and a camera whose restart budget is spent is failed while the rest of the city runs on, the
server ready but degraded; restarts show in the audit log, /readyz and /metrics."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from citywatch.config.ingest import CameraSettings, SourceSettings
from citywatch.config.restarts import RestartSettings
from citywatch.domain.frames import Frame
from citywatch.domain.policy import ProcessingMode
from citywatch.pipeline.worker import CameraWorker
from citywatch.runtime.supervised import supervise
from citywatch.runtime.supervisor import ChildState, Supervisor
from tests.conftest import shared_data_dir
from tests.fakes.vision import FakeDetector, FakeEmbedder
from tests.web.api.harness import Api, api_settings, open_api

FAST = RestartSettings(budget=2, window_s=60, backoff_initial_s=0.05, backoff_max_s=0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def replayed(camera_id: str) -> CameraSettings:
    """A live camera: a real clip played at its own rate and looped, never ending on its own."""
    clip = shared_data_dir() / "face_recognition/examples/short_hamilton_clip.mp4"
    return CameraSettings(
        id=camera_id, url=str(clip), mode=ProcessingMode.DETECT, source=SourceSettings(replay=True)
    )


@pytest.fixture
def city(tmp_path: Path) -> Iterator[Api]:
    unreachable = CameraSettings(
        id="dead",
        url=f"rtsp://127.0.0.1:{free_port()}/nothing",
        source=SourceSettings(open_timeout_s=1, reconnect_attempts=1, reconnect_initial_s=0.05),
    )
    settings = api_settings(tmp_path).model_copy(
        update={
            "cameras": [replayed("gate-1"), replayed("gate-2"), unreachable],
            "restarts": FAST,
        }
    )
    yield from open_api(settings)


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def state(sup: Supervisor, name: str) -> tuple[ChildState, int]:
    status = next(s for s in sup.status() if s.name == name)
    return status.state, status.restarts


def crash_after(worker: CameraWorker, n: int) -> None:
    """Kill the worker from inside: its source's decoding raises, as a crashing decoder would,
    on the reader thread, after `n` frames."""
    frames = worker.source.frames

    def crashing() -> Iterator[Frame]:
        for i, frame in enumerate(frames()):
            if i == n:
                raise RuntimeError("decoder crashed")
            yield frame

    worker.source.frames = crashing  # type: ignore[method-assign]


def audited(api: Api, action: str, obj: str) -> list[dict[str, object]]:
    return [dict(e.params) for e in api.rt.audit_log.entries() if e.action == action and e.object == obj]


def frames_of(sup: Supervisor, name: str) -> int:
    worker = sup.child(name)
    assert isinstance(worker, CameraWorker)
    return worker.status().frames


def test_a_worker_killed_from_inside_is_restarted_fresh(city: Api) -> None:
    city.rt.detector, city.rt.embedder = FakeDetector(), FakeEmbedder()
    sup = supervise(city.rt)
    first = sup.child("camera:gate-2")
    assert isinstance(first, CameraWorker)
    crash_after(first, 5)
    sup.start()
    try:
        wait_for(lambda: state(sup, "camera:gate-2") == (ChildState.RUNNING, 1))
        second = sup.child("camera:gate-2")
        assert second is not first and first.done and first.status().state == "failed"
        wait_for(lambda: frames_of(sup, "camera:gate-2") > 5)  # the fresh one reads on, past the crash
        assert city.rt.live.worker("gate-2") is second  # the console shows the fresh one
        (restart,) = audited(city, "worker.restart", "camera:gate-2")
        assert restart == {"restarts": 1, "reason": "unexpected error reading source: RuntimeError"}
        restarts = [e for e in city.rt.audit_log.entries() if e.action == "worker.restart"]
        assert restarts and {e.role for e in restarts} == {"system"}
        metrics = city.call("GET", "/metrics", "ada").text
        assert 'citywatch_restarts_total{child="camera:gate-2"} 1.0' in metrics
        assert 'citywatch_restarts_total{child="camera:gate-1"} 0.0' in metrics
        assert 'citywatch_child_up{child="camera:gate-2"} 1.0' in metrics
    finally:
        assert sup.stop(10) == []


def test_a_camera_out_of_restarts_fails_and_the_city_runs_on_degraded(city: Api) -> None:
    city.rt.detector, city.rt.embedder = FakeDetector(), FakeEmbedder()
    sup = supervise(city.rt)
    sup.start()
    try:
        wait_for(lambda: state(sup, "camera:dead")[0] is ChildState.FAILED, timeout_s=60)
        assert state(sup, "camera:dead") == (ChildState.FAILED, 2)  # the budget: two restarts
        before = frames_of(sup, "camera:gate-1")
        wait_for(lambda: frames_of(sup, "camera:gate-1") > before)  # the rest of the city runs on
        assert state(sup, "camera:gate-1") == (ChildState.RUNNING, 0)
        assert {s.name: s.state for s in sup.status() if s.name.startswith("service:")} == {
            "service:camera-sync": ChildState.RUNNING,
            "service:leases": ChildState.RUNNING,
            "service:purge": ChildState.RUNNING,
            "service:orders": ChildState.RUNNING,
        }

        ready = city.call("GET", "/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert [c["name"] for c in ready.json()["checks"] if not c["ok"]] == ["cameras"]
        details = city.call("GET", "/metrics/readiness", "ada").json()
        (cameras,) = [c["detail"] for c in details["checks"] if c["name"] == "cameras"]
        assert "dead (failed:" in cameras and "gave up: 2 restart(s)" in cameras
        assert "gate-1" not in cameras and "gate-2" not in cameras

        assert [r["restarts"] for r in audited(city, "worker.restart", "camera:dead")] == [1, 2]
        (failed,) = audited(city, "worker.failed", "camera:dead")
        assert failed["restarts"] == 2 and "unreachable" in str(failed["reason"])
        metrics = city.call("GET", "/metrics", "ada").text
        assert 'citywatch_child_up{child="camera:dead"} 0.0' in metrics
        assert 'citywatch_child_up{child="camera:gate-1"} 1.0' in metrics
        assert 'citywatch_restarts_total{child="camera:dead"} 2.0' in metrics
        assert 'citywatch_singleton_held{singleton="retention"} 1.0' in metrics  # one process: its own
    finally:
        assert sup.stop(10) == []
    assert {s.name: s.state for s in sup.status()}["camera:dead"] is ChildState.FAILED
