"""`watch` on an HTTP stream: frames arrive at the pace they are sent; Ctrl-C stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.cli_helpers import Result, cli_env
from tests.integration.test_bad_input import remux_faststart

CHUNK = 16 * 1024
PAUSE_S = 0.2  # about 80 kB/s: the 600 kB clip takes about 7 s to arrive


@pytest.fixture
def slow_stream(tmp_path: Path, shared_data: Path) -> Iterator[str]:
    clip = tmp_path / "clip.mp4"
    remux_faststart(shared_data / "face_recognition/examples/short_hamilton_clip.mp4", clip)
    body = clip.read_bytes()

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(0, len(body), CHUNK):
                    self.wfile.write(body[i : i + CHUNK])
                    self.wfile.flush()
                    time.sleep(PAUSE_S)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/clip.mp4"
    server.shutdown()


@pytest.mark.slow
def test_ctrl_c_prints_the_summary_and_exits_cleanly(
    tmp_path: Path, shared_data: Path, slow_stream: str
) -> None:
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "citywatch", "watch", slow_stream, "--mode", "investigate", "--json"],
            cwd=tmp_path,
            env=cli_env(tmp_path, shared_data),
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
        )
        # Ctrl-C before `watch` has taken over SIGINT (imports, models: slow on a busy machine)
        # is Python's own KeyboardInterrupt; wait for its word that it is watching
        deadline = time.monotonic() + 120
        while "Ctrl-C stops" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        time.sleep(1.5)  # about a second of stream
        assert proc.poll() is None, "the stream ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    stderr = log.read_text()
    res = Result(proc.returncode, stdout, stderr)
    assert res.code == 0, stderr
    summary = res.json_lines()[-1]
    assert summary["type"] == "summary"
    assert 0 < summary["frames_decoded"] < 275
    assert "Traceback" not in stderr
