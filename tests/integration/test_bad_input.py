"""Bad input: a clear message, no traceback, nothing already stored lost."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from tests.databases import integrity_ok, metadata_sql
from tests.integration.cli_helpers import authorise, citywatch, cli_env, enroll

LIN = "Lin-Manuel Miranda"


@pytest.fixture
def enrolled(tmp_path: Path, shared_data: Path) -> Path:
    ex = shared_data / "face_recognition/examples"
    assert enroll(tmp_path, shared_data, LIN, ex / "lin-manuel-miranda.png").code == 0
    authorise(tmp_path, ["x", "watch"])
    return tmp_path


def persons(work: Path) -> list[tuple[int, str]]:
    db = metadata_sql(work / "data")
    return db.execute(
        "select p.id, p.display_name from persons p join templates t on t.person_id = p.id"
    ).fetchall()


def remux_faststart(src: Path, dst: Path) -> None:
    """Copy the clip's video stream into an MP4 whose index comes first."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            out.mux(packet)


def make_inputs(tmp: Path, data: Path) -> dict[str, Path]:
    clip = (data / "face_recognition/examples/short_hamilton_clip.mp4").read_bytes()
    (tmp / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10)
    (tmp / "truncated.mp4").write_bytes(clip[: len(clip) * 2 // 5])  # index (moov) lost with the tail
    faststart = tmp / "faststart.mp4"
    remux_faststart(data / "face_recognition/examples/short_hamilton_clip.mp4", faststart)
    whole = faststart.read_bytes()
    (tmp / "truncated_faststart.mp4").write_bytes(whole[: len(whole) // 2])  # index first, tail lost
    (tmp / "notes.mp4").write_text("this is a text file, not a video\n" * 20)
    return {
        "corrupt": tmp / "corrupt.jpg",
        "truncated": tmp / "truncated.mp4",
        "truncated_faststart": tmp / "truncated_faststart.mp4",
        "text": tmp / "notes.mp4",
        "noface": data / "face-api.js/test/images/white.png",
        "dogs": data / "dlib/examples/faces/dogs.jpg",
        "group": data / "face-api.js/test/images/faces.jpg",
    }


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["enroll", "{corrupt}", "--name", "X", "--source", "s", "--legal-basis", "b"],
            2,
            "not a readable image",
        ),
        (["enroll", "{noface}", "--name", "X", "--source", "s", "--legal-basis", "b"], 2, "no face found"),
        (["enroll", "{dogs}", "--name", "X", "--source", "s", "--legal-basis", "b"], 2, "no face found"),
        (["enroll", "{group}", "--name", "X", "--source", "s", "--legal-basis", "b"], 2, "faces found"),
        (
            ["enroll", "{noface}", "--name", "X", "--source", " ", "--legal-basis", "b"],
            2,
            "source and a legal basis",
        ),
        (["watch", "{text}"], 2, "not a readable video"),
        (["watch", "{truncated}"], 2, "not a readable video"),
        (["watch", "{tmp}/missing.mp4"], 4, "no such file"),
        # CITYWATCH_SOURCE__RECONNECT_ATTEMPTS=2 (cli_env): the first try and two reconnects
        (["watch", "rtsp://127.0.0.1:9/none", "--json"], 4, "unreachable after 3 attempts"),
        (["watch", "{text}", "--camera-id", "no spaces allowed"], 2, "invalid value: id"),
        (["verify", "{corrupt}", "{noface}"], 2, "not a readable image"),
        (
            [
                *(
                    "search",
                    "{noface}",
                    "--case",
                    "C-1",
                    "--legal-basis",
                    "b",
                    "--cameras",
                    "x",
                    "--since",
                    "1h",
                ),
                "--authorisation",
                "AUTH-TEST",
            ],
            2,
            "no face found",
        ),
    ],
)
def test_clear_error_and_nothing_lost(
    enrolled: Path, shared_data: Path, args: list[str], code: int, message: str
) -> None:
    before = persons(enrolled)
    inputs = make_inputs(enrolled, shared_data)
    argv = [a.format(tmp=enrolled, **inputs) for a in args]
    res = citywatch(enrolled, shared_data, *argv, timeout=120)
    assert res.code == code, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert persons(enrolled) == before


def test_truncated_video_processes_what_it_can(enrolled: Path, shared_data: Path) -> None:
    inputs = make_inputs(enrolled, shared_data)
    res = citywatch(enrolled, shared_data, "watch", str(inputs["truncated_faststart"]), "--json")
    assert res.code == 0, res.stderr
    summary = res.json_lines()[-1]
    assert 0 < summary["frames_decoded"] < 275
    assert summary["warnings"], "a truncated video must be reported"
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_sigkill_during_watch_leaves_only_whole_sightings(tmp_path: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    # Every sampled frame is processed (30 fps), so the first sighting is stored at about a
    # quarter of the clip and the process is killed while later tracks are being written.
    assert enroll(tmp_path, shared_data, LIN, ex / "lin-manuel-miranda.png").code == 0
    authorise(tmp_path, ["watch"])
    db_path = tmp_path / "data/citywatch.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "citywatch",
            "watch",
            str(ex / "short_hamilton_clip.mp4"),
            "--mode",
            "investigate",
            "--detect-fps",
            "30",
        ],
        cwd=tmp_path,
        env=cli_env(tmp_path, shared_data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        count = metadata_sql(db_path.parent).execute("select count(*) from sightings").fetchone()[0]
        if count >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "watch finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    db = metadata_sql(db_path.parent)
    assert integrity_ok(db)
    rows = db.execute("select id, crop_path, crop_sha256, template, ended_at from sightings").fetchall()
    assert rows
    for _, crop, sha, template, ended in rows:
        data = (tmp_path / "data/blobs" / crop).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha
        assert template is not None and len(template) == 128 * 4
        assert ended is not None
    alerts = db.execute(
        "select count(*) from alerts a left join sightings s on s.id = a.sighting_id where s.id is null"
    ).fetchone()
    assert alerts == (0,)
