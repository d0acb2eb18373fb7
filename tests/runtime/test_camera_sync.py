"""A running city picks up camera records without a restart: a camera added through the
records starts within a sync round, a change restarts it afresh with its new settings, and a
removal stops it (the other cameras running on untouched); each start and stop audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.cameras.records import CameraChange
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.pipeline.live import LiveState
from citywatch.pipeline.worker import CameraWorker
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.runtime.camera_sync import CameraSync
from citywatch.runtime.supervised import supervise
from citywatch.runtime.supervisor import ChildState, Supervisor
from tests.conftest import shared_data_dir
from tests.fakes.vision import FakeDetector, FakeEmbedder
from tests.runtime.test_supervised import FAST, frames_of, replayed, state, wait_for

ADA = Actor("ada", "admin")


@pytest.fixture
def city(tmp_path: Path, shared_data: Path) -> Iterator[Runtime]:
    settings = Settings(
        data_dir=tmp_path / "data",
        models_dir=shared_data_dir() / "models",
        cameras=[replayed("gate-1")],
        restarts=FAST,
    )
    rt = build_runtime(settings)
    rt.detector, rt.embedder = FakeDetector(), FakeEmbedder()
    yield rt
    rt.close()


def worker(sup: Supervisor, name: str) -> CameraWorker | None:
    child = sup.child(name)
    return child if isinstance(child, CameraWorker) else None


def test_a_running_city_picks_up_an_added_a_changed_and_a_removed_camera(city: Runtime) -> None:
    sup = supervise(city, camera_sync_s=0.05)
    sup.start()
    try:
        assert state(sup, "service:camera-sync") == (ChildState.RUNNING, 0)
        city.camera_records.add(replayed("dock"), by=ADA)
        wait_for(lambda: worker(sup, "camera:dock") is not None and frames_of(sup, "camera:dock") > 0)
        first = worker(sup, "camera:dock")
        assert city.live.worker("dock") is first  # the console shows it

        city.camera_records.change("dock", CameraChange(source={"detect_fps": "4"}), by=ADA)
        wait_for(lambda: worker(sup, "camera:dock") not in (None, first))
        second = worker(sup, "camera:dock")
        assert first is not None and first.done  # stopped, then built afresh from its new settings
        assert second is not None and city.live.worker("dock") is second
        assert city.camera_records.get("dock").settings.source.detect_fps == 4.0

        city.camera_records.remove("dock", by=ADA)
        wait_for(lambda: city.live.status("dock").state is LiveState.NOT_RUNNING)  # stopped, then gone
        assert second.done and all(s.name != "camera:dock" for s in sup.status())
        assert state(sup, "camera:gate-1") == (ChildState.RUNNING, 0)  # the rest ran on untouched
        before = frames_of(sup, "camera:gate-1")
        wait_for(lambda: frames_of(sup, "camera:gate-1") > before)
    finally:
        assert sup.stop(10) == []
    records = [e for e in city.audit_log.entries() if e.object == "camera:dock"]
    actions = [e.action for e in records if e.action != "camera.mode"]  # (the policy's own)
    assert actions == [
        "camera.add",
        "camera.start",
        "camera.change",
        "camera.stop",
        "camera.start",
        "camera.remove",
        "camera.stop",
    ]


def test_a_round_does_nothing_unless_a_record_changed(city: Runtime) -> None:
    sup = Supervisor(FAST, events=_Quiet())
    sync = CameraSync(city, sup, tier=0)
    assert sync.add_all() == ["gate-1"]
    assert sync.poll() == type(sync.poll())()  # nothing changed: not even the cameras read
    city.camera_records.add(replayed("dock"), by=ADA)
    result = sync.poll()
    assert (result.added, result.changed, result.removed) == (("dock",), (), ())
    assert sync.poll().added == ()
    for name in ("camera:gate-1", "camera:dock"):
        sup.remove(name, 1)


class _Quiet:
    def restarted(self, name: str, restarts: int, reason: str) -> None: ...

    def failed(self, name: str, restarts: int, reason: str) -> None: ...
