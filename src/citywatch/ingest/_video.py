"""PyAV behind a typed face for the file and stream sources: pick the video stream, decode, explain."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol

import av
import numpy as np

from citywatch.domain.errors import CorruptMedia
from citywatch.domain.frames import Frame, Image
from citywatch.domain.ports import SourceHealth, SourceState
from citywatch.ingest._common import add_warning
from citywatch.ingest.sampler import DEFAULT_STREAM_FPS, Sampler

logger = logging.getLogger(__name__)

AV_ERRORS: tuple[type[BaseException], ...] = (av.FFmpegError, OSError, EOFError)
"""What PyAV raises for media and I/O trouble (its errors also subclass OSError, ValueError)."""

_TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf", "tty"})
"""FFmpeg renders text files (`.txt`, `.nfo`, ...) as 'video'; a camera never sends these."""

_END_SLACK_S = 0.5
"""A stream that stops this close to its declared duration counts as complete."""


def describe_error(exc: BaseException) -> str:
    """A short human reason for a PyAV or OS error, without errno noise or the URL."""
    if isinstance(exc, av.error.ExitError):
        return "timed out"
    reason = getattr(exc, "strerror", None)
    if isinstance(reason, str) and reason:
        return reason
    return str(exc) or type(exc).__name__


def _seconds(value: Any, time_base: Any) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the container declares about its video stream; times in seconds from its first frame."""

    codec: str
    width: int
    height: int
    fps: float | None
    duration_s: float | None
    """None for raw elementary streams and live streams."""
    frame_count: int | None
    """From the container's index; None when it does not say."""


class PacketTap(Protocol):
    """Takes the compressed video of a source as it is read (the footage recorder).

    Called on the reader thread; must be quick and must never raise.
    """

    def begin(self, stream: Any, frame_s: float) -> None:
        """A new input (a file pass, a stream connection) starts; `stream` is its PyAV video
        stream and `frame_s` the frame interval assumed for packets without timestamps."""
        ...

    def packet(self, packet: Any) -> None:
        """A demuxed packet of that stream, after it was decoded (the tap may reuse it)."""
        ...

    def anchor(self, raw_s: float | None, at: datetime) -> None:
        """A decoded frame whose stream time is `raw_s` seconds (None: the input has no
        timestamps) stands for wall-clock time `at`: ties the packets' clock to the source's."""
        ...


class DecodedFrame:
    """A decoded frame whose pixels are converted only when the frame is sampled."""

    __slots__ = ("_frame", "pts_s", "raw_s")

    def __init__(self, frame: Any, pts_s: float | None, raw_s: float | None = None) -> None:
        self._frame = frame
        self.pts_s = pts_s
        """Seconds since the stream's start; None when the stream has no timestamps.
        A source may move it onto its own timeline before sampling."""
        self.raw_s = raw_s
        """The frame's own stream time in seconds, as its packets carry it; never moved."""

    def image(self) -> Image:
        image: Image = np.ascontiguousarray(self._frame.to_ndarray(format="bgr24"), dtype=np.uint8)
        return image


class VideoReader:
    """Decodes the video stream of an open PyAV container, surviving bad packets.

    `decoded()` ends quietly on EOF or on a demuxing error; `end_error` then says which.
    """

    def __init__(
        self, container: Any, *, name: str, health: SourceHealth, tap: PacketTap | None = None
    ) -> None:
        self.name = name
        self.health = health
        self._tap = tap
        videos = container.streams.video
        if not videos:
            raise CorruptMedia(f"{name}: not a readable video (no video stream)")
        stream = videos[0]
        if stream.codec_context is None:  # a stream whose codec FFmpeg does not know (found by fuzzing)
            raise CorruptMedia(f"{name}: not a readable video (unknown video codec)")
        codec = str(stream.codec_context.name)
        if codec in _TEXT_CODECS or str(container.format.name) == "tty":
            raise CorruptMedia(f"{name}: not a readable video (a text file, not media)")
        stream.thread_type = "AUTO"
        self._container = container
        self._stream = stream
        self._time_base: Fraction | None = stream.time_base
        start = _seconds(stream.start_time, stream.time_base)
        self._start_s = start if start is not None else 0.0
        self.info = VideoInfo(
            codec=codec,
            width=int(stream.codec_context.width or 0),
            height=int(stream.codec_context.height or 0),
            fps=self._rate(stream),
            duration_s=self._duration(container, stream, start),
            frame_count=int(stream.frames) if stream.frames else None,
        )
        self.frames_decoded = 0
        self.packets_skipped = 0
        self.last_pts_s: float | None = None
        self.end_error: str | None = None

    @staticmethod
    def _rate(stream: Any) -> float | None:
        for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
            if rate:
                return float(rate)
        return None

    @staticmethod
    def _duration(container: Any, stream: Any, start_s: float | None) -> float | None:
        duration = _seconds(stream.duration, stream.time_base)
        if duration:
            return duration
        if container.duration:
            # Container duration runs from the container's start, which may precede the video's.
            total = float(container.duration) / av.time_base
            container_start = float(container.start_time or 0) / av.time_base
            return max(0.0, total - ((start_s or container_start) - container_start))
        return None

    def seek(self, t_s: float) -> bool:
        """Move to the keyframe at or before `t_s`; False when the input cannot seek."""
        if self._time_base is None:
            return False
        target = int((self._start_s + t_s) / self._time_base)
        try:
            self._container.seek(target, stream=self._stream, backward=True)
        except AV_ERRORS as exc:
            logger.debug("%s: seek to %.2f s failed: %s", self.name, t_s, describe_error(exc))
            return False
        return True

    def decoded(self) -> Iterator[DecodedFrame]:
        """The frames of the video stream in order; each packet also goes to the tap, if any."""
        if self._tap is not None:
            self._tap.begin(self._stream, 1.0 / (self.info.fps or DEFAULT_STREAM_FPS))
        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except AV_ERRORS as exc:
                self.end_error = describe_error(exc)
                return
            try:
                frames = packet.decode()
            except AV_ERRORS as exc:
                self._skip(exc)
                frames = []
            if self._tap is not None:  # recorded whether or not it decodes: a copy is a copy
                self._tap.packet(packet)
            for frame in frames:
                self.frames_decoded += 1
                t = frame.time
                raw_s = None if t is None else float(t)
                pts_s = None if raw_s is None else raw_s - self._start_s
                if pts_s is not None:
                    self.last_pts_s = pts_s
                yield DecodedFrame(frame, pts_s, raw_s)

    def _skip(self, exc: BaseException) -> None:
        self.packets_skipped += 1
        reason = describe_error(exc)
        if self.packets_skipped == 1:
            add_warning(
                self.health,
                f"{self.name}: skipped an undecodable packet after frame {self.frames_decoded}: {reason}",
                logger,
            )
        else:
            logger.debug("%s: skipped an undecodable packet: %s", self.name, reason)

    def report_skips(self) -> None:
        """Sum up skipped packets once reading stops (the first was already reported)."""
        if self.packets_skipped > 1:
            add_warning(
                self.health, f"{self.name}: skipped {self.packets_skipped} undecodable packets in all", logger
            )

    def shortfall(self) -> str | None:
        """Why the stream stopped before its declared end, or None when it did not (or cannot tell)."""
        if self.end_error is not None:
            return self.end_error
        info = self.info
        frame_s = 1.0 / info.fps if info.fps else 0.0
        if info.duration_s is not None and self.last_pts_s is not None:
            if self.last_pts_s + frame_s < info.duration_s - max(_END_SLACK_S, 2 * frame_s):
                return f"stopped at {self.last_pts_s:.2f} s of {info.duration_s:.2f} s"
            return None
        if info.frame_count is not None and self.frames_decoded < info.frame_count:
            return f"{self.frames_decoded} of {info.frame_count} frames"
        return None


class FrameMaker:
    """Turns decoded frames into sampled `Frame`s for one source, counting into its health."""

    def __init__(
        self,
        camera_id: str,
        health: SourceHealth,
        sampler: Sampler,
        started_at: datetime,
        stop: threading.Event,
        *,
        tap: PacketTap | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.health = health
        self.sampler = sampler
        self.started_at = started_at
        self.stop = stop
        self.tap = tap
        self.decoded = 0
        self.unconvertible = 0
        """Frames decoded but skipped: their pixels could not be converted to BGR."""

    def sampled(self, frames: Iterator[DecodedFrame]) -> Iterator[Frame]:
        """Yield the sampled ones of `frames` until they end or the source is stopped."""
        for decoded in frames:
            if self.stop.is_set():
                return
            index = self.decoded
            self.decoded += 1
            self.health.frames_decoded += 1
            if self.health.state is not SourceState.RUNNING:
                self.health.state = SourceState.RUNNING
            decision = self.sampler.decide(decoded.pts_s)
            if self.tap is not None:
                self.tap.anchor(decoded.raw_s, self.started_at + timedelta(seconds=decision.t_s))
            if not decision.keep:
                continue
            try:
                image = decoded.image()
            except AV_ERRORS as exc:  # decoded, but its pixels cannot become BGR (a broken format)
                self._unconvertible(index, exc)
                continue
            self.health.frames_sampled += 1
            yield Frame(
                camera_id=self.camera_id,
                index=index,
                pts_s=decision.t_s,
                captured_at=self.started_at + timedelta(seconds=decision.t_s),
                image=image,
            )

    def _unconvertible(self, index: int, exc: BaseException) -> None:
        """Skip a frame whose pixels cannot be converted, saying so once per source."""
        self.unconvertible += 1
        if self.unconvertible == 1:
            add_warning(
                self.health,
                f"{self.camera_id}: skipped frame {index}, whose pixels cannot be converted: "
                f"{describe_error(exc)}",
                logger,
            )
        else:
            logger.debug("%s: skipped frame %d: %s", self.camera_id, index, describe_error(exc))
