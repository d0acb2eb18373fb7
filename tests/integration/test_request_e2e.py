"""End to end on the Hamilton clip: record it as two cameras, file a law-enforcement
request for one camera's window, let six days pass, purge; the requested footage and
sightings survive and export as a signed package that verifies; everything else is gone,
with receipts."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest

from citywatch.config.ingest import CameraSettings
from citywatch.config.recording import RecordingSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import SYSTEM, Actor
from citywatch.domain.policy import ProcessingMode, Window
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.requests.export_store import EXPORTS_FOLDER
from citywatch.requests.fulfil import fulfil
from citywatch.requests.package import verify_package
from citywatch.requests.records import NewRequest
from citywatch.retention.holds import HoldService
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import fulfilment
from tests.integration.cli_helpers import authorise

IVY = Actor("ivy", "investigator")
SAM = Actor("sam", "supervisor")


@pytest.fixture
def recorded(tmp_path: Path, shared_data: Path) -> Iterator[Runtime]:
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    settings = Settings(
        data_dir=tmp_path / "data",
        models_dir=shared_data / "models",
        recording=RecordingSettings(segment_s=3),
    )
    authorise(tmp_path, ["gate", "yard"], watchlist=None)
    rt = Runtime(settings)
    for camera in ("gate", "yard"):
        worker = rt.camera_worker(CameraSettings(id=camera, url=str(clip), mode=ProcessingMode.INVESTIGATE))
        worker.start()
        assert worker.join(240)
    yield rt
    rt.close()


@pytest.mark.slow
def test_requested_footage_survives_the_purge_and_exports_verifiably(
    recorded: Runtime, tmp_path: Path
) -> None:
    rt = recorded
    # a file plays faster than real time: its frames are stamped open time + position
    start, end = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(minutes=5)
    gate = rt.footage.segments("gate", start, end)
    yard = rt.footage.segments("yard", start, end)
    assert len(gate) >= 2 and len(yard) >= 2
    gate_sightings, _ = rt.sightings.sightings_in(["gate"], start, end)
    assert gate_sightings, "investigate mode stored the gate camera's sightings"

    info = rt.requests.file(
        NewRequest(
            RequestKind.LAW_ENFORCEMENT,
            "MET-2026-0311",
            "Metropolitan Police, DC Jones",
            "dc.jones@example.org",
            ["gate"],
            Window(start, end),
        ),
        by=IVY,
    )

    later = datetime.now(UTC) + timedelta(days=6)
    rt.__dict__["retention"] = HoldService(
        rt.database,
        policy=rt.settings.retention.policy(),
        clock=lambda: later,
        audit=rt._audit_as,
        remove_file=rt._remove_file,
    )
    receipt = rt.purger.purge(by=SYSTEM)
    assert receipt is not None
    assert receipt.counts["footage"] == len(yard)
    assert sorted(receipt.details["ids"]["footage"]) == sorted(s.id for s in yard)
    assert len(receipt.details["file_sha256"]["footage"]) == len(yard)
    assert rt.footage.segments("yard", start, later) == []
    assert [s.id for s in rt.footage.segments("gate", start, later)] == [s.id for s in gate]
    assert not [p for p in (tmp_path / "data/footage").rglob("*") if p.is_file() and "yard" in p.parts]
    kept, _ = rt.sightings.sightings_in(["gate", "yard"], start, later)
    assert {s.camera_id for s in kept} == {"gate"} and len(kept) == len(gate_sightings)

    rt.requests.approve(info.id, by=SAM)
    done = fulfil(fulfilment(rt), info.id, by=SAM)
    assert done.status is RequestStatus.FULFILLED and done.export_id is not None
    (package,) = (tmp_path / "data" / EXPORTS_FOLDER).rglob("*.zip")
    verdict = verify_package(package, rt.audit_log.public_key)
    assert verdict.ok and verdict.reference == "MET-2026-0311"
    with zipfile.ZipFile(package) as zf:
        names = set(zf.namelist())
        assert "clips/gate.mp4" in names and not any("yard" in n for n in names)
        assert {f"crops/sighting-{s.id}.jpg" for s in gate_sightings} <= names
        zf.extract("clips/gate.mp4", tmp_path / "unzipped")
    with av.open(str(tmp_path / "unzipped/clips/gate.mp4")) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 200  # the whole held window, across segment boundaries
    actions = [e.action for e in rt.audit_log.entries()]
    assert {"request.file", "hold.place", "receipt.purge", "request.approve", "request.fulfil"} <= set(
        actions
    )
