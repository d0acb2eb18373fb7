"""`citywatch run`: several cameras at once, a dead one reported, a clean stop on SIGINT."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.databases import DATABASE_ERRORS, metadata_sql
from tests.integration.cli_helpers import authorise, cli_env, enroll

LIN = "Lin-Manuel Miranda"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(work: Path, data: Path, *, detect_fps: float = 8) -> None:
    ex = data / "face_recognition/examples"
    folder = work / "stills"
    folder.mkdir()
    for name in ("obama.jpg", "biden.jpg", "lin-manuel-miranda.png"):
        (folder / name).write_bytes((ex / name).read_bytes())
    (work / "citywatch.yaml").write_text(
        f"""\
restarts: {{budget: 1, backoff_initial_s: 0.1}}
cameras:
  - id: stage
    url: {ex / "short_hamilton_clip.mp4"}
    mode: investigate
    source: {{detect_fps: {detect_fps}}}
  - id: stills
    url: {folder}
    mode: investigate
  - id: lobby
    url: {ex / "short_hamilton_clip.mp4"}
  - id: missing
    url: {work / "no-such-clip.mp4"}
  - id: dead
    url: rtsp://127.0.0.1:{free_port()}/nothing
    source: {{open_timeout_s: 1, reconnect_attempts: 1, reconnect_initial_s: 0.1}}
"""
    )


def camera_lines(stdout: str) -> dict[str, dict[str, str]]:
    out = {}
    for m in re.finditer(r"camera (\S+): (\w+), (\d+) frames, (\d+) sightings, (\d+) matches", stdout):
        out[m.group(1)] = {
            "state": m.group(2),
            "frames": m.group(3),
            "sightings": m.group(4),
            "matches": m.group(5),
        }
    return out


def stored(work: Path) -> dict[str, int]:
    db = metadata_sql(work / "data")
    return dict(db.execute("select camera_id, count(*) from sightings group by camera_id").fetchall())


@pytest.mark.slow
def test_run_watches_all_cameras_and_reports_the_dead_one(tmp_path: Path, shared_data: Path) -> None:
    assert (
        enroll(
            tmp_path, shared_data, LIN, shared_data / "face_recognition/examples/lin-manuel-miranda.png"
        ).code
        == 0
    )
    write_config(tmp_path, shared_data)
    authorise(tmp_path, ["stage", "stills", "lobby"])
    proc = subprocess.run(
        [sys.executable, "-m", "citywatch", "run"],
        cwd=tmp_path,
        env=cli_env(tmp_path, shared_data),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    cams = camera_lines(proc.stdout)
    assert cams["dead"]["state"] == "failed"
    assert re.search(r"camera dead: failed, .*1 restart\(s\) \(.*gave up: 1 restart", proc.stdout)
    assert cams["missing"]["state"] == "failed" and "no such file" in proc.stdout
    assert "unreachable" in proc.stdout
    assert int(cams["stage"]["matches"]) >= 1
    assert cams["stills"]["frames"] == "3"
    # no mode configured: a new camera records, and nobody is detected, let alone identified
    assert cams["lobby"]["frames"] != "0" and cams["lobby"]["sightings"] == "0"
    assert int(cams["stills"]["matches"]) == 1  # the enrolled photo itself, nobody else
    assert stored(tmp_path) == {
        "stage": int(cams["stage"]["sightings"]),
        "stills": int(cams["stills"]["sightings"]),
    }
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_sigint_stops_cleanly_and_stores_open_tracks(tmp_path: Path, shared_data: Path) -> None:
    write_config(tmp_path, shared_data, detect_fps=30)
    authorise(tmp_path, ["stage", "stills"], watchlist=None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "citywatch", "run"],
        cwd=tmp_path,
        env=cli_env(tmp_path, shared_data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if sum(stored(tmp_path).values()) >= 1:
                break
        except DATABASE_ERRORS:  # the database or its schema is still being created
            pass
        time.sleep(0.02)
    assert proc.poll() is None, "run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopped 5 camera(s) cleanly" in stdout
    cams = camera_lines(stdout)
    # everything the pipeline finished, including tracks still open at the signal, is stored
    assert stored(tmp_path).get("stage", 0) == int(cams["stage"]["sightings"])
    assert "Traceback" not in stderr
