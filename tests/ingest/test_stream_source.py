"""StreamSource against loopback servers: reading, ending, dropping, reconnecting, closing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citywatch.config.ingest import SourceSettings
from citywatch.domain.errors import SourceUnavailable
from citywatch.domain.frames import Frame
from citywatch.domain.ports import SourceState
from citywatch.ingest.stream import StreamSource, backoff_s, redact

QUICK = {"open_timeout_s": 0.5, "read_timeout_s": 0.5, "reconnect_initial_s": 0.05, "reconnect_max_s": 0.1}


@pytest.mark.parametrize(
    ("failures", "jitter", "expected"),
    [
        (0, 0.0, 1.0),  # a drop after frames: the first wait
        (1, 0.0, 1.0),
        (2, 0.0, 2.0),
        (3, 0.0, 4.0),
        (5, 0.0, 16.0),
        (6, 0.0, 30.0),  # capped
        (10_000, 0.0, 30.0),  # no overflow
        (3, 0.5, 3.8),  # jitter shortens by up to 10 %
        (6, 0.999, 27.003),
    ],
)
def test_backoff_doubles_up_to_the_cap(failures: int, jitter: float, expected: float) -> None:
    assert backoff_s(failures, 1.0, 30.0, jitter) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
        ("rtsp://:hunter2@cam/live", "rtsp://:***@cam/live"),
        ("rtsp://admin@cam/live", "rtsp://admin@cam/live"),
        ("http://cam/video.mjpg?x=1", "http://cam/video.mjpg?x=1"),
    ],
)
def test_redact_hides_passwords(url: str, shown: str) -> None:
    assert redact(url) == shown


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def consume(source: StreamSource, *, until: Callable[[list[Frame]], bool] | None = None) -> list[Frame]:
    frames: list[Frame] = []
    for frame in source.frames():
        frames.append(frame)
        if until is not None and until(frames):
            source.close()
    return frames


def test_unreachable_stream_fails_after_its_reconnects(closed_port: int) -> None:
    url = f"rtsp://viewer:s3cret@127.0.0.1:{closed_port}/none"
    source = StreamSource("cam-1", url, SourceSettings(reconnect_attempts=2, **QUICK))
    started = time.monotonic()

    with pytest.raises(SourceUnavailable, match=r"unreachable after 3 attempts: Connection refused") as err:
        consume(source)

    assert time.monotonic() - started < 2.0
    assert "s3cret" not in str(err.value)
    assert source.health.reconnects == 2
    assert source.health.state is SourceState.FAILED
    assert source.health.last_error == str(err.value)


def test_silent_server_times_out(silent_port: int) -> None:
    source = StreamSource(
        "cam-1",
        f"http://127.0.0.1:{silent_port}/live",
        SourceSettings(reconnect_attempts=1, **{**QUICK, "open_timeout_s": 0.2}),
    )
    started = time.monotonic()

    with pytest.raises(SourceUnavailable, match=r"after 2 attempts: no data within 0.2 s \(open timeout\)"):
        consume(source)

    assert time.monotonic() - started < 3.0
    assert source.health.reconnects == 1


@pytest.mark.data
def test_http_file_is_read_through_and_ends(hamilton: Path, serve: Callable[..., Any]) -> None:
    media = serve(hamilton.read_bytes())  # index at the end: FFmpeg fetches it by byte range
    source = StreamSource("cam-1", media.url, SourceSettings(detect_fps=10, **QUICK))

    frames = consume(source)

    assert len(frames) == 92
    assert {f.image.shape for f in frames} == {(360, 640, 3)}
    assert np.all(np.diff([f.pts_s for f in frames]) > 0)
    health = source.health
    assert (health.state, health.frames_decoded, health.reconnects) == (SourceState.ENDED, 275, 0)


@pytest.mark.data
def test_dropped_connection_reconnects_and_resumes(
    hamilton_faststart: Path, serve: Callable[..., Any]
) -> None:
    data = hamilton_faststart.read_bytes()
    media = serve(data, cut_first_at=len(data) * 4 // 10)
    source = StreamSource("cam-1", media.url, SourceSettings(detect_fps=10, **QUICK))

    frames = consume(source)

    health = source.health
    assert health.reconnects >= 1
    assert media.requests >= 2
    assert health.state is SourceState.ENDED
    assert frames[-1].pts_s > 9.0  # frames kept coming after the reconnect, to the end
    pts = [f.pts_s for f in frames]
    assert np.all(np.diff(pts) > 0)  # resumed where it stopped: no frame twice
    assert np.all(np.diff([f.index for f in frames]) > 0)
    assert len(frames) == pytest.approx(92, abs=2)
    assert health.frames_decoded == pytest.approx(275, abs=5)
    assert "connection lost" in (health.last_error or "")


@pytest.mark.data
def test_live_stream_eof_reconnects_until_closed(raw_h264: Path, serve: Callable[..., Any]) -> None:
    media = serve(raw_h264.read_bytes(), content_type="video/h264")  # no duration: a live stream
    source = StreamSource("cam-1", media.url, SourceSettings(detect_fps=5, **QUICK))

    frames = consume(source, until=lambda _: source.health.reconnects >= 2)

    assert source.health.state is SourceState.ENDED
    assert media.requests >= 3
    assert source.health.frames_decoded >= 2 * 127
    assert np.all(np.diff([f.pts_s for f in frames]) > 0)  # one timeline across connections
    assert source.health.last_error == "stream ended (EOF)"


def test_close_during_backoff_returns_promptly(closed_port: int) -> None:
    settings = SourceSettings(
        open_timeout_s=0.5, read_timeout_s=0.5, reconnect_initial_s=30, reconnect_max_s=60
    )
    source = StreamSource("cam-1", f"rtsp://127.0.0.1:{closed_port}/none", settings)
    outcome: list[object] = []
    reader = threading.Thread(target=lambda: outcome.append(consume(source)), daemon=True)
    reader.start()
    assert wait_for(lambda: source.health.state is SourceState.RECONNECTING)

    closed_at = time.monotonic()
    source.close()
    reader.join(timeout=5)

    assert time.monotonic() - closed_at < 1.0
    assert outcome == [[]]  # ended quietly, no exception
    assert source.health.state is SourceState.ENDED
    assert source.health.reconnects == 1


@pytest.mark.data
def test_close_during_a_stalled_read_returns_within_the_read_timeout(
    hamilton_faststart: Path, serve: Callable[..., Any]
) -> None:
    data = hamilton_faststart.read_bytes()
    media = serve(data, stall_first_at=len(data) // 2)
    settings = SourceSettings(detect_fps=10, **{**QUICK, "read_timeout_s": 0.5})
    source = StreamSource("cam-1", media.url, settings)
    frames: list[Frame] = []
    reader = threading.Thread(target=lambda: frames.extend(source.frames()), daemon=True)
    reader.start()
    assert wait_for(lambda: source.health.frames_sampled > 0)
    time.sleep(0.1)  # let it run into the silence

    closed_at = time.monotonic()
    source.close()
    reader.join(timeout=5)

    assert not reader.is_alive()
    assert time.monotonic() - closed_at < 0.5 + 0.5
    assert 0 < len(frames) < 92
    assert source.health.state is SourceState.ENDED
