"""A video file as a frame source: decode with PyAV, sample, survive damage, end at EOF."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import av

from citywatch.config.ingest import SourceSettings
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import CorruptMedia, SourceUnavailable
from citywatch.domain.frames import Frame
from citywatch.domain.ports import SourceHealth, SourceState
from citywatch.ingest._common import add_warning, tracked
from citywatch.ingest._video import (
    AV_ERRORS,
    DecodedFrame,
    FrameMaker,
    PacketTap,
    VideoReader,
    describe_error,
)
from citywatch.ingest.sampler import Sampler

logger = logging.getLogger(__name__)


def mp4_truncation(path: Path) -> str | None:
    """Why an MP4/MOV file cannot be opened, when it was cut off before its index (`moov` box).

    Such a file cannot be decoded at all: the index holds the sample table and the codec
    setup (H.264 SPS/PPS), and most encoders write it last. None when this is not the case.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            offset, boxes = 0, set()
            while offset + 8 <= size:
                file.seek(offset)
                header = file.read(16)
                length, kind = int.from_bytes(header[:4], "big"), header[4:8]
                if offset == 0 and kind != b"ftyp":
                    return None
                if length == 1 and len(header) == 16:
                    length = int.from_bytes(header[8:16], "big")
                elif length == 0:
                    length = size - offset
                if length < 8:
                    return None
                boxes.add(kind)
                if offset + length > size:
                    if b"moov" in boxes:
                        return None
                    return f"truncated at {size} of {offset + length} bytes, before its index (moov)"
                offset += length
    except OSError:
        return None
    return None


class FileSource:
    """Frames of a video file (any container or raw `.h264`/`.h265` stream FFmpeg reads).

    `captured_at` is `started_at` (the clock at the first `frames()` call unless given) plus
    the frame's position. A file damaged midway yields what decodes and ends with a warning in
    `health.warnings`; single undecodable packets are skipped and counted. A file that is not
    media at all raises `CorruptMedia`; a missing or unreadable one, `SourceUnavailable`.
    `tap` (the recorder) gets the video's packets as they are read.
    """

    def __init__(
        self,
        camera_id: str,
        path: str | Path,
        settings: SourceSettings,
        *,
        clock: Clock = utc_now,
        started_at: datetime | None = None,
        tap: PacketTap | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.path = Path(path)
        self.settings = settings
        self.health = SourceHealth()
        self._clock = clock
        self._started_at = started_at
        self._tap = tap
        self._stop = threading.Event()

    def close(self) -> None:
        self._stop.set()

    def frames(self) -> Iterator[Frame]:
        return tracked(self.health, self._run())

    def _run(self) -> Iterator[Frame]:
        started_at = self._started_at if self._started_at is not None else self._clock()
        maker: FrameMaker | None = None
        replay = _Replay(self._stop) if self.settings.replay else None
        while True:
            container = self._open()
            try:
                reader = VideoReader(container, name=str(self.path), health=self.health, tap=self._tap)
                if maker is None:
                    self._log_opening(reader)
                    sampler = Sampler(self.settings.detect_fps, stream_fps=reader.info.fps)
                    maker = FrameMaker(
                        self.camera_id, self.health, sampler, started_at, self._stop, tap=self._tap
                    )
                decoded = (
                    reader.decoded() if replay is None else replay.paced(reader.decoded(), reader.info.fps)
                )
                yield from maker.sampled(decoded)
                reader.report_skips()
                if self._stop.is_set():
                    self.health.state = SourceState.ENDED
                    return
                self._finish(reader)
                if replay is None:
                    return
                replay.next_pass()
            finally:
                container.close()

    def _log_opening(self, reader: VideoReader) -> None:
        logger.info(
            "%s: reading %s (%s %dx%d, %s fps%s)",
            self.camera_id,
            self.path,
            reader.info.codec,
            reader.info.width,
            reader.info.height,
            f"{reader.info.fps:.2f}" if reader.info.fps else "unknown",
            ", replayed in real time, looping" if self.settings.replay else "",
        )

    def _open(self) -> Any:
        if not self.path.exists():
            self._fail(SourceUnavailable(f"{self.path}: no such file"))
        if self.path.is_dir():
            self._fail(SourceUnavailable(f"{self.path}: is a folder, not a video file"))
        try:
            return av.open(str(self.path), metadata_errors="replace")
        except PermissionError as exc:
            self._fail(SourceUnavailable(f"{self.path}: cannot be read ({describe_error(exc)})"))
        except AV_ERRORS as exc:
            reason = mp4_truncation(self.path) or describe_error(exc)
            self._fail(CorruptMedia(f"{self.path}: not a readable video ({reason})"))

    def _fail(self, error: Exception) -> NoReturn:
        self.health.state = SourceState.FAILED
        self.health.last_error = str(error)
        raise error

    def _finish(self, reader: VideoReader) -> None:
        if reader.frames_decoded == 0:
            reason = reader.end_error or ("undecodable packets" if reader.packets_skipped else "no frames")
            self._fail(CorruptMedia(f"{self.path}: not a readable video ({reason})"))
        shortfall = reader.shortfall()
        if shortfall is not None:
            self.health.last_error = shortfall
            add_warning(
                self.health,
                f"{self.path}: video ended early at frame {reader.frames_decoded}: {shortfall}",
                logger,
            )
        self.health.state = SourceState.ENDED
        logger.info(
            "%s: %s ended after %d frames (%d sampled)",
            self.camera_id,
            self.path,
            self.health.frames_decoded,
            self.health.frames_sampled,
        )


class _Replay:
    """Paces decoded frames to the wall clock and lays the passes of a looped file end to
    end on one timeline, so that timestamps only grow."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._offset_s = 0.0
        self._pass_end_s = 0.0
        self._wall_start: float | None = None

    def paced(self, frames: Iterator[DecodedFrame], fps: float | None) -> Iterator[DecodedFrame]:
        step = 1.0 / fps if fps else 1.0 / 25
        for i, frame in enumerate(frames):
            local = frame.pts_s if frame.pts_s is not None else i * step
            frame.pts_s = self._offset_s + local
            self._pass_end_s = max(self._pass_end_s, frame.pts_s + step)
            if self._wall_start is None:
                self._wall_start = time.monotonic() - frame.pts_s
            delay = self._wall_start + frame.pts_s - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            yield frame

    def next_pass(self) -> None:
        self._offset_s = self._pass_end_s
