"""open_source picks the source by URL and refuses what no source reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from citywatch.config.ingest import SourceSettings
from citywatch.domain.errors import InvalidInput, SourceUnavailable
from citywatch.ingest.file import FileSource
from citywatch.ingest.folder import FolderSource
from citywatch.ingest.open import open_source
from citywatch.ingest.stream import StreamSource


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "stills").mkdir()
    (tmp_path / "clip.mp4").write_bytes(b"opened lazily, so any bytes do here")
    return tmp_path


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("{root}/stills", FolderSource),
        ("{root}/clip.mp4", FileSource),
        ("file://{root}/clip.mp4", FileSource),
        ("rtsp://user:pw@10.1.2.3:554/stream1", StreamSource),
        ("RTSPS://cam.example/stream", StreamSource),
        ("http://127.0.0.1:8080/video.mjpg", StreamSource),
        ("https://cdn.example/clip.mp4", StreamSource),
        ("rtmp://127.0.0.1/live/key", StreamSource),
        ("udp://127.0.0.1:1234", StreamSource),
        ("tcp://127.0.0.1:1234", StreamSource),
    ],
)
def test_picks_the_source_by_url(media: Path, url: str, kind: type) -> None:
    source = open_source("cam-1", url.format(root=media), SourceSettings())

    assert isinstance(source, kind)
    assert source.camera_id == "cam-1"


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        ("{root}/missing.mp4", SourceUnavailable, r"missing.mp4: no such file or folder"),
        ("file://{root}/missing.mp4", SourceUnavailable, r"missing.mp4: no such file or folder"),
        ("ftp://user:pw@host/clip.mp4", InvalidInput, r"^ftp://user:\*\*\*@host/clip.mp4: unsupported"),
    ],
)
def test_refuses_what_it_cannot_open(media: Path, url: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        open_source("cam-1", url.format(root=media), SourceSettings())
