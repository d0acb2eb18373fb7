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
DEFAULT_FPS = 25
"""Frame rate assumed for a stream that declares none."""
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


@dataclass(frozen=True, slots=True)
class VideoFrame:
    offset_s: float
    """Seconds after the file's first frame."""
    image: Image


def video_frames(path: Path, *, every_s: float = 0.0, skip_s: float = 0.0) -> Iterator[VideoFrame]:
    """The frames of `path`'s video, at least `every_s` apart (0: every frame), as BGR images;
    frames less than `skip_s` after the first are left out (as `rewrite_video` does).

    Raises `CorruptMedia` when the file cannot be opened or decoded."""
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            timeline = _Timeline(stream)
            last = -np.inf
            for frame in container.decode(stream):
                offset = timeline.offset(frame)
                if offset + 1e-6 < skip_s or offset - last + 1e-6 < every_s:
                    continue
                last = offset
                yield VideoFrame(offset, np.asarray(frame.to_ndarray(format="bgr24"), np.uint8))
    except (av.FFmpegError, OSError, EOFError) as exc:
        raise CorruptMedia(f"{path.name}: cannot be decoded ({exc})") from exc


def rewrite_video(src: Path, out: Path, edit: Callable[[int, Image], Image], *, skip_s: float = 0.0) -> int:
    """Write to `out` (MP4, H.264) the frames of `src` passed through `edit` (called with the
    frame's number among those written, from 0, and its image), at the same times; no audio.
    Frames less than `skip_s` after the first are dropped, and the written ones start at 0.
    Returns the number of frames written."""
    written = 0
    try:
        with av.open(str(src)) as source, av.open(str(out), "w", format="mp4") as target:
            stream = _video_stream(source, src)
            encoder: Any = target.add_stream(ENCODER, rate=stream.average_rate or DEFAULT_FPS)
            encoder.width, encoder.height = stream.codec_context.width, stream.codec_context.height
            encoder.pix_fmt = "yuv420p"
            encoder.time_base = stream.time_base
            encoder.options = {"crf": CRF}
            timeline = _Timeline(stream)
            start: float | None = None
            last_pts = -1
            for frame in source.decode(stream):
                offset = timeline.offset(frame)
                if offset + 1e-6 < skip_s:
                    continue
                start = offset if start is None else start
                image = edit(written, np.asarray(frame.to_ndarray(format="bgr24"), np.uint8))
                edited = av.VideoFrame.from_ndarray(image, format="bgr24")
                last_pts = max(last_pts + 1, round((offset - start) / stream.time_base))
                edited.pts, edited.time_base = last_pts, stream.time_base
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


class _Timeline:
    """Seconds of each decoded frame after the first: from its pts, or, where a frame has
    none, from the number of frames decoded so far at the stream's rate (PyAV's frames carry
    no index of their own)."""

    def __init__(self, stream: Any) -> None:
        self._rate = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
        self._count = 0
        self._first: float | None = None

    def offset(self, frame: Any) -> float:
        if frame.pts is None or frame.time_base is None:
            t = self._count / self._rate
        else:
            t = float(frame.pts * frame.time_base)
        self._count += 1
        self._first = t if self._first is None else self._first
        return t - self._first
