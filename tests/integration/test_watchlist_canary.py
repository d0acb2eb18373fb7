"""The canary of a city in watchlist mode: the template of a face that matches no one never
leaves the worker. Alex Lacamoire is the watchlist; Lin-Manuel Miranda, on the Hamilton clip,
is a stranger. A pipeline in investigate mode first yields his templates (the canary: what a
leak would look like). A city worker then watches the clip in watchlist mode, publishing on a
real JetStream; afterwards no canary template is in JetStream's store files (as the base64
the bus carries), in the database, or in the blob store."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from citywatch.cluster.servers import NatsServer
from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.records import SightingRecord, SightingSaved
from citywatch.runtime.build import Runtime
from citywatch.runtime.city import supervise_worker
from tests.databases import metadata_sql
from tests.integration.cli_helpers import authorise, enroll

ALEX = "Alex Lacamoire"


def camera(shared_data: Path, camera_id: str, mode: str) -> CameraSettings:
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    return CameraSettings(id=camera_id, url=str(clip), mode=mode)  # type: ignore[arg-type]


@pytest.fixture
def work(tmp_path: Path, shared_data: Path) -> Path:
    examples = shared_data / "face_recognition/examples"
    assert enroll(tmp_path, shared_data, ALEX, examples / "alex-lacamoire.png").code == 0
    authorise(tmp_path, ["control", "street"])
    return tmp_path


@pytest.fixture
def canaries(work: Path, shared_data: Path) -> Iterator[list[np.ndarray]]:
    """The templates of the faces on the clip that match no one, as investigate mode keeps them."""
    rt = Runtime(Settings(data_dir=work / "data", models_dir=shared_data / "models"))
    kept: list[SightingRecord] = []

    def keep(record: SightingRecord) -> SightingSaved | None:
        kept.append(record)
        return None

    try:
        worker = replace(rt.machinery, save=keep).camera_worker(camera(shared_data, "control", "investigate"))
        worker.start()
        assert worker.join(120)
    finally:
        rt.close()
    found = [r.template for r in kept if not r.match.is_match and r.template is not None]
    assert found, "the clip yields no face that matches no one: the canary would see nothing"
    yield found


def on_disk(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


@pytest.mark.slow
def test_no_template_of_a_stranger_leaves_a_watchlist_worker(
    work: Path, shared_data: Path, nats_server: NatsServer, canaries: list[np.ndarray]
) -> None:
    street = camera(shared_data, "street", "watchlist")
    settings = Settings(
        data_dir=work / "data", models_dir=shared_data / "models", bus=nats_server.url, cameras=[street]
    )
    rt = Runtime(settings)
    try:
        supervisor, worker = supervise_worker(rt, rt.bus, capacity=1)
        supervisor.start()
        deadline = time.monotonic() + 120
        while "street" not in worker.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.running().keys() == {"street"}
        while not supervisor.settled("camera:") and time.monotonic() < deadline:
            time.sleep(0.5)
        (child,) = supervisor.children("camera:")
        stats = child.pipeline.stats  # type: ignore[attr-defined]
        assert stats.tracks > 0 and stats.discarded > 0  # strangers were seen, and dropped
        supervisor.stop(30)
    finally:
        rt.close()

    bus_files = on_disk(nats_server.folder / "jetstream")
    assert b"citywatch" in bus_files  # the stream's files are there to be read
    stored = on_disk(work / "data")
    rows = metadata_sql(work / "data").execute("select template from sightings").fetchall()
    database = b"".join(bytes(t) for (t,) in rows if t is not None)
    for template in canaries:
        raw = np.asarray(template, dtype="<f4").tobytes()
        assert base64.b64encode(raw) not in bus_files
        assert raw not in stored and raw not in database
