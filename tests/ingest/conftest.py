"""Ingest fixtures: clips from the shared data, media derived from them, loopback HTTP servers."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import pytest

HAMILTON = Path("face_recognition/examples/short_hamilton_clip.mp4")
"""275 frames at 29.97 fps, 640x360, H.264 in MP4 with the index (moov) at the end."""
RAW_H264 = Path("dlib/dlib/test/ffmpeg_data/MOT20-08-raw_shorter.h264")
"""127 frames at 25 fps, 960x366, a raw elementary stream without timestamps."""


@pytest.fixture(scope="session")
def hamilton(shared_data: Path) -> Path:
    return shared_data / HAMILTON


@pytest.fixture(scope="session")
def raw_h264(shared_data: Path) -> Path:
    return shared_data / RAW_H264


@pytest.fixture(scope="session")
def hamilton_faststart(hamilton: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Hamilton clip's video remuxed with the index first, as streaming servers serve MP4."""
    target = tmp_path_factory.mktemp("media") / "hamilton_faststart.mp4"
    with (
        av.open(str(hamilton)) as source,
        av.open(str(target), "w", options={"movflags": "faststart"}) as sink,
    ):
        video = source.streams.video[0]
        out = sink.add_stream_from_template(video)
        for packet in source.demux(video):
            if packet.dts is None:  # the flush packet at the end
                continue
            packet.stream = out
            sink.mux(packet)
    return target


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class MediaServer:
    """What the test HTTP server serves and how it misbehaves; `requests` counts GETs."""

    body: bytes
    content_type: str = "video/mp4"
    cut_first_at: int | None = None
    """Send only this many bytes of the first response, then hang up."""
    stall_first_at: int | None = None
    """Send only this many bytes of the first response, then keep the connection silent."""
    release: threading.Event = field(default_factory=threading.Event)
    """Set at teardown to let stalled responses finish."""
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


def _handler(media: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Serves `media.body` at any path, with byte ranges (FFmpeg seeks to an end-of-file index)."""

        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with media.lock:
                media.requests += 1
                first = media.requests == 1
            size = len(media.body)
            start, end = 0, size - 1
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
            if match:
                start = int(match[1])
                end = min(int(match[2]), end) if match[2] else end
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            else:
                self.send_response(200)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", media.content_type)
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            chunk = media.body[start : end + 1]
            if first and media.cut_first_at is not None:
                chunk = chunk[: media.cut_first_at]
                self.close_connection = True
            try:
                if first and media.stall_first_at is not None:
                    self.wfile.write(chunk[: media.stall_first_at])
                    self.wfile.flush()
                    media.release.wait(30)
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # FFmpeg hangs up when it seeks elsewhere

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up mid-response are part of these tests


@pytest.fixture
def serve() -> Iterator[Callable[..., MediaServer]]:
    """Start a loopback HTTP server for a body: `serve(data, **MediaServer options) -> MediaServer`."""
    servers: list[ThreadingHTTPServer] = []
    served: list[MediaServer] = []

    def start(body: bytes, **options: Any) -> MediaServer:
        media = MediaServer(body=body, **options)
        served.append(media)
        server = _QuietServer(("127.0.0.1", 0), _handler(media))
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        media.url = f"http://127.0.0.1:{server.server_address[1]}/clip"
        return media

    yield start
    for media in served:
        media.release.set()
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel does) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]
