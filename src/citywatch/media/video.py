"""Reading a recorded video frame by frame, and writing an edited copy of it (re-encoded:
an edit such as blurring faces changes pixels, so packets cannot be copied)."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from citywatch.domain.errors import CorruptMedia
from citywatch.domain.frames import Image

ENCODER = "libx264"
CRF = "20"
"""Visually lossless for the kept face; the blurred ones carry nothing to lose."""
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


@dataclass(frozen=True, slots=True)
class VideoFrame:
    offset_s: float
    """Seconds after the file's first frame."""
    image: Image


def video_frames(path: Path, *, every_s: float = 0.0) -> Iterator[VideoFrame]:
    """The frames of `path`'s video, at least `every_s` apart (0: every frame), as BGR images.

    Raises `CorruptMedia` when the file cannot be opened or decoded."""
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            first: float | None = None
            last = -np.inf
            for frame in container.decode(stream):
                t = _time(frame)
                first = t if first is None else first
                offset = t - first
                if offset - last + 1e-6 < every_s:
                    continue
                last = offset
                yield VideoFrame(offset, np.asarray(frame.to_ndarray(format="bgr24"), np.uint8))
    except (av.FFmpegError, OSError, EOFError) as exc:
        raise CorruptMedia(f"{path.name}: cannot be decoded ({exc})") from exc


def rewrite_video(src: Path, out: Path, edit: Callable[[Image], Image]) -> int:
    """Write to `out` (MP4, H.264) every frame of `src` passed through `edit`, at the same
    times; no audio. Returns the number of frames written."""
    written = 0
    try:
        with av.open(str(src)) as source, av.open(str(out), "w", format="mp4") as target:
            stream = _video_stream(source, src)
            encoder: Any = target.add_stream(ENCODER, rate=stream.average_rate or 25)
            encoder.width, encoder.height = stream.codec_context.width, stream.codec_context.height
            encoder.pix_fmt = "yuv420p"
            encoder.time_base = stream.time_base
            encoder.options = {"crf": CRF}
            for frame in source.decode(stream):
                image = edit(np.asarray(frame.to_ndarray(format="bgr24"), np.uint8))
                edited = av.VideoFrame.from_ndarray(image, format="bgr24")
                edited.pts, edited.time_base = frame.pts, stream.time_base
                target.mux(encoder.encode(edited))
                written += 1
            target.mux(encoder.encode(None))
    except (av.FFmpegError, EOFError) as exc:
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
            raise  # the disk, not the media: the caller says so
        raise CorruptMedia(f"{src.name}: cannot be re-encoded ({exc})") from exc
    return written


def _video_stream(container: Any, path: Path) -> Any:
    if not container.streams.video:
        raise CorruptMedia(f"{path.name}: no video stream")
    return container.streams.video[0]


def _time(frame: Any) -> float:
    if frame.pts is None or frame.time_base is None:
        return float(frame.index) / 25.0
    return float(frame.pts * frame.time_base)
