"""Cameras as records: the configuration file's and the records', added, changed and removed
by whoever may manage cameras, each change audited with a version; the file wins for its own
ids; a source is never shown or audited with its credentials; a removed camera's footage stays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.cameras.records import CameraChange, check_url, new_camera, shown_url
from citywatch.cameras.service import CameraService
from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, OutOfScope, PermissionDenied
from citywatch.domain.policy import ProcessingMode
from citywatch.runtime.build import Runtime
from citywatch.store.retention_tables import RecordingRow
from tests.store.helpers import T0

ADA = Actor("ada", "admin")
OLGA = Actor("olga", "operator")
SCOPED = Actor("alf", "admin", frozenset({"gate", "dock"}))
SECRET = "s3cr3t-pw"
STREAM = f"rtsp://viewer:{SECRET}@10.0.4.22:554/stream1"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path / "data", cameras=[CameraSettings(id="gate", url="/srv/gate.mp4")])
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


def camera(camera_id: str = "dock", url: str = STREAM, **fields: object) -> CameraSettings:
    return new_camera({"id": camera_id, "url": url, **fields})


def audited(rt: Runtime, action: str) -> list[dict[str, object]]:
    return [dict(e.params) for e in rt.audit_log.entries() if e.action == action]


def test_a_record_joins_the_files_cameras_and_is_audited_without_its_password(rt: Runtime) -> None:
    cameras = rt.camera_records
    record = cameras.add(camera(name="Dock", mode=ProcessingMode.DETECT, location=(51.5, -0.12)), by=ADA)
    assert (record.id, record.version, record.from_config, record.created_by) == ("dock", 1, False, "ada")
    assert [(c.id, c.from_config, c.version) for c in cameras.cameras()] == [
        ("gate", True, 0),
        ("dock", False, 1),
    ]
    assert [c.id for c in rt.cameras()] == ["gate", "dock"]
    assert cameras.get("dock").settings.url == STREAM  # kept, to open the stream
    (added,) = audited(rt, "camera.add")
    assert added == {
        "source": "rtsp://***@10.0.4.22:554/stream1",
        "mode": "detect",
        "version": 1,
        "name": "Dock",
        "location": [51.5, -0.12],
    }
    assert SECRET not in json.dumps([e.params for e in rt.audit_log.entries()])
    with pytest.raises(Conflict, match="exists already"):
        cameras.add(camera(), by=ADA)


def test_a_change_counts_the_version_up_and_names_the_fields_changed(rt: Runtime) -> None:
    cameras = rt.camera_records
    cameras.add(camera(), by=ADA)
    new_url = f"rtsp://viewer:other-{SECRET}@10.0.4.23/stream1"
    change = CameraChange(url=new_url, mode=ProcessingMode.WATCHLIST, source={"detect_fps": "4"})
    record = cameras.change("dock", change, by=ADA, version=1)
    assert record.version == 2 and record.settings.source.detect_fps == 4.0
    assert record.settings.source.read_timeout_s == 10.0  # the other source settings kept
    (changed,) = audited(rt, "camera.change")
    assert changed["fields"] == ["url", "mode", "source"] and changed["version"] == 2
    assert changed["from"]["url"] == "rtsp://***@10.0.4.22:554/stream1"  # type: ignore[index]
    assert changed["to"]["url"] == "rtsp://***@10.0.4.23/stream1"  # type: ignore[index]
    assert SECRET not in json.dumps(changed)
    with pytest.raises(Conflict, match="at version 2, not 1"):
        cameras.change("dock", CameraChange(name="late"), by=ADA, version=1)
    same = cameras.change("dock", CameraChange(mode=ProcessingMode.WATCHLIST), by=ADA)
    assert same.version == 2 and len(audited(rt, "camera.change")) == 1  # nothing changed, nothing recorded
    cleared = cameras.change("dock", CameraChange(location=(1.0, 2.0)), by=ADA)
    assert cleared.settings.location == (1.0, 2.0)
    assert cameras.change("dock", CameraChange(clear_location=True), by=ADA).settings.location is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (CameraChange(location=(91.0, 0.0)), "not a .latitude, longitude. pair"),
        (CameraChange(source={"detect_fps": "0"}), "source.detect_fps"),
        (CameraChange(source={"colour": "red"}), "source.colour"),
        (CameraChange(url="relative/clip.mp4"), "absolute path"),
        (CameraChange(url="gopher://host/x"), "no source reads 'gopher'"),
        (CameraChange(location=(1.0, 2.0), clear_location=True), "not both"),
    ],
)
def test_an_impossible_change_is_refused_and_changes_nothing(
    rt: Runtime, change: CameraChange, message: str
) -> None:
    rt.camera_records.add(camera(), by=ADA)
    with pytest.raises(InvalidInput, match=message):
        rt.camera_records.change("dock", change, by=ADA)
    assert rt.camera_records.get("dock").version == 1


def test_a_removed_camera_keeps_its_footage_until_its_retention_ends(rt: Runtime) -> None:
    cameras = rt.camera_records
    cameras.add(camera(), by=ADA)
    with rt.database.session() as session:
        session.add(
            RecordingRow(
                camera_id="dock",
                day="2026-03-01",
                started_at=T0,
                ended_at=T0,
                path="dock/2026-03-01/a.mp4",
                size=1,
                sha256="0" * 64,
                created_at=T0,
            )
        )
    before = cameras.revision()
    removed = cameras.remove("dock", by=ADA)
    assert removed.footage_kept and removed.record.version == 1
    assert [c.id for c in cameras.cameras()] == ["gate"] and cameras.revision() != before
    assert rt.footage.has_footage("dock")  # the footage index is intact
    assert rt.known_cameras(["dock", "nowhere"]) == {"gate", "dock"}  # known while footage is kept
    (record,) = audited(rt, "camera.remove")
    assert record == {
        "source": "rtsp://***@10.0.4.22:554/stream1",
        "mode": "record",  # the default mode
        "version": 1,
        "footage_kept": True,
    }
    with pytest.raises(NotFound, match="no camera record 'dock'"):
        cameras.remove("dock", by=ADA)
    again = cameras.add(camera(), by=ADA)  # the same id joins its footage again, as a new record
    assert again.version == 1 and again.key != removed.record.key


def test_the_file_wins_for_its_cameras(rt: Runtime, tmp_path: Path) -> None:
    cameras = rt.camera_records
    with pytest.raises(Conflict, match="declared in the configuration file"):
        cameras.add(camera("gate"), by=ADA)
    with pytest.raises(Conflict, match="changed there"):
        cameras.change("gate", CameraChange(name="x"), by=ADA)
    with pytest.raises(Conflict, match="removed there"):
        cameras.remove("gate", by=ADA)
    cameras.add(camera("dock"), by=ADA)
    # the file now declares `dock` too: the file's wins, the record stays stored and is named
    file_dock = CameraSettings(id="dock", url="/srv/dock.mp4")
    later = CameraService(
        rt.database,
        configured=[*rt.settings.cameras, file_dock],
        clock=lambda: T0,
        audit=rt._audit_as,
        has_footage=lambda _: False,
    )
    assert [(c.id, c.from_config, c.settings.url) for c in later.cameras()] == [
        ("gate", True, "/srv/gate.mp4"),
        ("dock", True, "/srv/dock.mp4"),
    ]
    assert later.shadowed() == ["dock"]


def test_only_who_may_manage_cameras_does_and_each_refusal_is_audited(rt: Runtime) -> None:
    cameras = rt.camera_records
    with pytest.raises(PermissionDenied, match=r"olga \(operator\) may not manage cameras"):
        cameras.add(camera(), by=OLGA)
    cameras.add(camera(), by=SCOPED)  # within the scope
    with pytest.raises(PermissionDenied, match=r"may not act on camera\(s\) lobby"):
        cameras.add(camera("lobby"), by=SCOPED)
    cameras.add(camera("lobby"), by=ADA)
    with pytest.raises(OutOfScope, match="no camera record 'lobby'"):  # as if it did not exist
        cameras.remove("lobby", by=SCOPED)
    refusals = [
        (e.actor, e.object, e.params["action"])
        for e in rt.audit_log.entries()
        if e.action == "access.refused"
    ]
    assert refusals == [
        ("olga", "camera:dock", "camera.add"),
        ("alf", "camera:lobby", "camera.add"),
        ("alf", "camera:lobby", "camera.remove"),
    ]
    assert [c.id for c in cameras.cameras(seen_by=SCOPED)] == ["gate", "dock"]
    with pytest.raises(NotFound):
        cameras.get("lobby", seen_by=SCOPED)


@pytest.mark.parametrize("camera_id", ["..", ".", "../etc", "a/b", ".hidden", "-x", "", "x" * 65])
def test_a_camera_id_that_could_name_another_folder_is_refused(rt: Runtime, camera_id: str) -> None:
    with pytest.raises(InvalidInput, match="invalid camera: id"):
        camera(camera_id)
    with pytest.raises(InvalidInput, match="a camera id is"):
        rt.camera_records.remove(camera_id, by=ADA)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (STREAM, "rtsp://***@10.0.4.22:554/stream1"),
        ("rtsp://viewer@10.0.4.22/s", "rtsp://***@10.0.4.22/s"),
        (
            "http://cam.local/video.cgi?user=admin&pwd=secret&x",
            "http://cam.local/video.cgi?user=***&pwd=***&x",
        ),
        ("rtsp://10.0.4.22/stream", "rtsp://10.0.4.22/stream"),
        ("rtsp://u:p@[::1/x", "rtsp://***"),
        ("rtsp://u:p@host:notaport/x", "rtsp://***"),
        ("/srv/clips/gate.mp4", "/srv/clips/gate.mp4"),
    ],
)
def test_a_source_is_shown_without_credentials(url: str, shown: str) -> None:
    assert shown_url(url) == shown


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("/srv/gate.mp4", None),
        ("file:///srv/gate.mp4", None),
        (STREAM, None),
        ("https://cam.local/stream.m3u8", None),
        ("clips/gate.mp4", "absolute path"),
        ("ftp://host/gate.mp4", "no source reads 'ftp'"),
        ("rtsp://host/a b", "no whitespace"),
        ("/srv/gate\n.mp4", "no whitespace"),
        ("rtsp://u:p@host:99999999/x", "not a well-formed URL"),
        ("x" * 2001, "1 to 2000"),
    ],
)
def test_a_source_no_camera_could_have_is_refused(url: str, problem: str | None) -> None:
    if problem is None:
        check_url(url)
        return
    with pytest.raises(InvalidInput, match=problem) as refused:
        check_url(url)
    assert "u:p" not in str(refused.value)
