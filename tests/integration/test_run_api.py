"""`citywatch run` with `api.enabled`: an operator's live feed shows the Hamilton clip's alert
as the camera raises it, a camera that cannot be opened makes the server not ready, and
Ctrl-C stops the cameras and the server, streams included."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from citywatch.config.settings import Settings
from citywatch.runtime.build import build_runtime
from tests.fakes.accounts import own_token
from tests.integration.cli_helpers import authorise, cli_env, enroll
from tests.integration.test_run import LIN, free_port


@pytest.mark.slow
def test_run_serves_the_live_alert_feed(tmp_path: Path, shared_data: Path) -> None:
    photo = shared_data / "face_recognition/examples/lin-manuel-miranda.png"
    assert enroll(tmp_path, shared_data, LIN, photo).code == 0
    authorise(tmp_path, ["stage"])
    rt = build_runtime(Settings(data_dir=tmp_path / "data"))
    try:
        rt.users.add_user("olga", "operator", cameras=["stage"])
        token = own_token(rt.users, "olga", "console").token
    finally:
        rt.close()
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    (tmp_path / "citywatch.yaml").write_text(
        f"cameras:\n  - id: stage\n    url: {clip}\n    mode: watchlist\n    source: {{replay: true}}\n"
        f"  - id: missing\n    url: {tmp_path / 'no-such-clip.mp4'}\n"
    )
    port = free_port()
    env = cli_env(tmp_path, shared_data) | {
        "CITYWATCH_API__ENABLED": "true",
        "CITYWATCH_API__PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "citywatch", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    events: list[dict[str, object]] = []

    def follow() -> None:
        headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": "0"}
        try:
            with httpx.stream("GET", f"http://127.0.0.1:{port}/api/alerts/stream", headers=headers) as r:
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        events.append(json.loads(line.removeprefix("data:")))
        except httpx.HTTPError:
            pass  # the server stopping ends the stream

    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, "the API did not come up"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    while not events and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    # the camera that could not be opened is failed, not absent: the server is degraded (one
    # dead camera does not take the console and the alert stream down with it)
    ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
    proc.send_signal(signal.SIGINT)  # the clip loops as a live camera: stop it as an operator would
    stdout, stderr = proc.communicate(timeout=60)
    reader.join(10)
    assert proc.returncode == 0, stderr
    assert "stopped 2 camera(s) cleanly" in stdout
    assert (ready.status_code, ready.json()["status"]) == (200, "degraded"), ready.text
    assert [c["name"] for c in ready.json()["checks"] if not c["ok"]] == ["cameras"]
    assert not reader.is_alive(), "the stream outlived the server"
    assert events, stderr
    assert {(e["camera"], e["person"]) for e in events} == {("stage", LIN)}
    assert "Traceback" not in stderr
