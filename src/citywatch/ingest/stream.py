"""A network stream as a frame source: open with timeouts, reconnect with backoff, stop on close()."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import av

from citywatch.config.ingest import SourceSettings
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import SourceUnavailable
from citywatch.domain.frames import Frame
from citywatch.domain.ports import SourceHealth, SourceState
from citywatch.ingest._common import tracked
from citywatch.ingest._video import (
    AV_ERRORS,
    DecodedFrame,
    FrameMaker,
    PacketTap,
    VideoReader,
    describe_error,
)
from citywatch.ingest.sampler import DEFAULT_STREAM_FPS, Sampler

logger = logging.getLogger(__name__)

JITTER = 0.1
"""Waits are shortened by up to this fraction, so that cameras dropped together do not return together."""

_FFMPEG_OPTIONS: dict[str, dict[str, str]] = {
    # UDP loses packets (smeared frames) and is often blocked; TCP interleaving is dependable.
    "rtsp": {"rtsp_transport": "tcp"},
    "rtsps": {"rtsp_transport": "tcp"},
}

_SAME_FRAME_S = 1e-6


def backoff_s(failures: int, initial_s: float, max_s: float, jitter: float = 0.0) -> float:
    """Seconds to wait before the next attempt, after `failures` failed attempts in a row.

    0 or 1 failures (a dropped stream, a first failed open) wait `initial_s`; each further
    failure doubles it, up to `max_s`. `jitter` in [0, 1) shortens the wait by up to `JITTER`.
    """
    exponent = min(max(failures - 1, 0), 60)
    return min(max_s, initial_s * 2.0**exponent) * (1.0 - JITTER * jitter)


def redact(url: str) -> str:
    """The URL with any password replaced by `***`, fit for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one connection ended: for good (`ended`), or with a `reason` to reconnect."""

    ended: bool = False
    reason: str = ""
    progressed: bool = False


class StreamSource:
    """Frames of a network stream: rtsp, rtsps, http(s), rtmp, udp, tcp.

    Rules, in order, when a connection stops delivering:

    * `close()` was called: the source ends (state ENDED), whatever the stream did.
    * EOF, the container declares a duration, and the last frame came within half a second (or
      two frames) of it: the stream was a finite file served over the network (http(s) of an
      .mp4, say) and has been read through; the source ends (ENDED). A finite stream cut short
      is reconnected and resumes after the last frame it delivered (seeking where it can).
    * anything else (EOF of a live stream, a read timeout, a network error, a failed open): wait
      and reconnect. Waits start at `reconnect_initial_s` and double per failed attempt up to
      `reconnect_max_s`, less up to 10 % jitter; a connection that delivered new frames resets
      them. After `reconnect_attempts` failed reconnects in a row (0 = never give up) the source
      fails (state FAILED) with `SourceUnavailable`.

    A blocking open or read is bounded by `open_timeout_s` / `read_timeout_s` (PyAV's timeout),
    so `close()` from another thread takes effect within that bound, and at once during a wait.
    Credentials in the URL never reach logs, warnings or errors. `tap` (the recorder) gets
    the video's packets as they are read.

    `pts_s` runs from the first connection: for a finite stream it is the position in the
    file; for a live one each connection's timestamps are laid after the previous one's, at
    no earlier than the wall-clock time since `started_at` (the clock when `frames()` began).
    `captured_at` = `started_at` + `pts_s`.
    """

    def __init__(
        self,
        camera_id: str,
        url: str,
        settings: SourceSettings,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        tap: PacketTap | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.url = url
        self._tap = tap
        self.settings = settings
        self.health = SourceHealth()
        self.name = redact(url)
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._stop = threading.Event()
        self._options = dict(_FFMPEG_OPTIONS.get(urlsplit(url).scheme.lower(), {}))
        self._maker: FrameMaker | None = None
        self._last_t: float | None = None
        """Last timestamp handed to the sampler, on the source's timeline."""
        self._frame_s = 1.0 / DEFAULT_STREAM_FPS
        self._new_frames = False
        """Whether the current connection delivered a frame not seen before."""

    def close(self) -> None:
        self._stop.set()

    def frames(self) -> Iterator[Frame]:
        return tracked(self.health, self._run())

    def _run(self) -> Iterator[Frame]:
        started_at = self._clock()
        failures = 0
        while True:
            outcome = yield from self._connection(started_at)
            if outcome.ended or self._stop.is_set():
                self.health.state = SourceState.ENDED
                logger.info("%s: %s ended", self.camera_id, self.name)
                return
            failures = 0 if outcome.progressed else failures + 1
            self.health.last_error = outcome.reason
            attempts = self.settings.reconnect_attempts
            if attempts and failures > attempts:
                error = SourceUnavailable(
                    f"{self.name}: unreachable after {failures} attempts: {outcome.reason}"
                )
                self.health.state = SourceState.FAILED
                self.health.last_error = str(error)
                logger.error("%s: %s", self.camera_id, error)
                raise error
            delay = backoff_s(
                failures,
                self.settings.reconnect_initial_s,
                self.settings.reconnect_max_s,
                self._rng.random(),
            )
            self.health.state = SourceState.RECONNECTING
            self.health.reconnects += 1
            logger.warning(
                "%s: %s: %s; reconnecting in %.2f s", self.camera_id, self.name, outcome.reason, delay
            )
            if self._stop.wait(delay):
                self.health.state = SourceState.ENDED
                return

    def _connection(self, started_at: datetime) -> Generator[Frame, None, _Outcome]:
        """Open the stream once and yield its sampled frames until it stops; say how it stopped."""
        if self._stop.is_set():
            return _Outcome(ended=True)
        try:
            container = av.open(
                self.url,
                timeout=(self.settings.open_timeout_s, self.settings.read_timeout_s),
                options=self._options,
                metadata_errors="replace",
            )
        except AV_ERRORS as exc:
            return _Outcome(reason=self._explain(describe_error(exc), "open"))
        try:
            reader = VideoReader(container, name=self.name, health=self.health, tap=self._tap)
            if self._maker is None:
                self._frame_s = 1.0 / (reader.info.fps or DEFAULT_STREAM_FPS)
                sampler = Sampler(self.settings.detect_fps, stream_fps=reader.info.fps)
                self._maker = FrameMaker(
                    self.camera_id, self.health, sampler, started_at, self._stop, tap=self._tap
                )
            finite = reader.info.duration_s is not None
            resume_after = self._last_t if finite else None
            if resume_after is not None:
                how = "seeking" if reader.seek(resume_after) else "decoding from the start"
                logger.info("%s: resuming %s after %.2f s (%s)", self.camera_id, self.name, resume_after, how)
            self._new_frames = False
            retimed = self._retimed(
                reader.decoded(), finite=finite, after=resume_after, started_at=started_at
            )
            yield from self._maker.sampled(retimed)
            reader.report_skips()
            if self._stop.is_set():
                return _Outcome(ended=True)
            if reader.end_error is not None:
                reason = f"connection lost: {self._explain(reader.end_error, 'read')}"
            elif not finite:
                reason = "stream ended (EOF)"
            else:
                shortfall = reader.shortfall()
                if shortfall is None:
                    return _Outcome(ended=True)
                reason = f"stream ended early: {shortfall}"
            return _Outcome(reason=reason, progressed=self._new_frames)
        finally:
            container.close()

    def _retimed(
        self, frames: Iterator[DecodedFrame], *, finite: bool, after: float | None, started_at: datetime
    ) -> Iterator[DecodedFrame]:
        """Put each frame on the source's timeline; drop frames a resumed finite stream repeats."""
        base: float | None = None
        offset = 0.0
        for frame in frames:
            pts = frame.pts_s
            if pts is not None and finite:
                if after is not None and pts <= after + _SAME_FRAME_S:
                    continue
            elif pts is not None:
                if base is None:
                    base = pts
                    elapsed = (self._clock() - started_at).total_seconds()
                    last = self._last_t
                    offset = max(elapsed, last + self._frame_s) if last is not None else 0.0
                frame.pts_s = offset + (pts - base)
            if frame.pts_s is not None:
                self._last_t = frame.pts_s
            self._new_frames = True
            yield frame

    def _explain(self, reason: str, phase: str) -> str:
        if reason != "timed out":
            return reason
        timeout_s = self.settings.open_timeout_s if phase == "open" else self.settings.read_timeout_s
        return f"no data within {timeout_s:g} s ({phase} timeout)"
