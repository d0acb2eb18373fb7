"""Pick the frame source for a camera URL: image folder, video file or network stream."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from citywatch.config.ingest import SourceSettings
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import InvalidInput, SourceUnavailable
from citywatch.domain.ports import FrameSource
from citywatch.ingest._video import PacketTap
from citywatch.ingest.file import FileSource
from citywatch.ingest.folder import FolderSource
from citywatch.ingest.stream import StreamSource, redact

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp"})

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def open_source(
    camera_id: str,
    url: str,
    settings: SourceSettings,
    *,
    clock: Clock = utc_now,
    tap: PacketTap | None = None,
) -> FrameSource:
    """The source for `url`: an existing folder → `FolderSource`; a stream URL (see
    `STREAM_SCHEMES`) → `StreamSource`; a `file://` URL or any other string → `FileSource`.
    `tap` (the recorder) gets the packets of a file or stream; a folder of images has none.

    Raises `SourceUnavailable` for a path that does not exist and `InvalidInput` for a URL
    scheme no source reads. Opening is lazy: media errors surface from `frames()`.
    """
    if _URL.match(url):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in STREAM_SCHEMES:
            return StreamSource(camera_id, url, settings, clock=clock, tap=tap)
        if scheme != "file":
            supported = ", ".join(sorted(STREAM_SCHEMES | {"file"}))
            raise InvalidInput(
                f"{redact(url)}: unsupported URL scheme {scheme!r} (use {supported} or a path)"
            )
        path = Path(parts.path)
    else:
        path = Path(url).expanduser()
    if path.is_dir():
        return FolderSource(camera_id, path, clock=clock)
    if not path.exists():
        raise SourceUnavailable(f"{path}: no such file or folder")
    return FileSource(camera_id, path, settings, clock=clock, tap=tap)
