"""Records a camera's footage while its source reads it: the compressed video packets are
copied (remuxed with PyAV, never re-encoded) into fixed-length MP4 segments.

The recorder is the source's `PacketTap`. On the reader thread it does little: one mux per
packet, and closing a finished segment's file. A finisher thread then makes each segment
durable and indexes it (fsync, hash, rename, row) through the `SegmentSink`, so that a slow
disk or a busy database never stalls the reader. Any write failure stops recording for the
camera and says why (`state`, `error`, the log); the frames go on to detection regardless.
Audio is never recorded.
"""

from __future__ import annotations

import errno
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any

import av

from citywatch.domain.errors import CitywatchError
from citywatch.domain.footage import PendingSegment, Segment, SegmentSink

log = logging.getLogger(__name__)

MAX_BUFFERED = 600
"""Packets held while waiting for the first decoded frame of an input to time them."""
POLICY_CHECK_S = 1.0
"""How often, in footage time, a segment being written asks whether the camera may record."""
_GAP_S = 1.0
"""A keyframe later than this after the last packet's end starts after a gap, not contiguously."""
_REPEAT_SLACK = timedelta(milliseconds=1)
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_MP4 = "mp4"


class RecorderState(StrEnum):
    WAITING = "waiting"
    """Nothing being written: no input yet, or waiting for a keyframe."""
    RECORDING = "recording"
    PAUSED = "paused"
    """The camera's mode is `off` (or the policy could not be read yet): nothing is recorded."""
    STOPPED = "stopped"
    FAILED = "failed"


def _always(_at: datetime) -> bool:
    return True


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return "disk full"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


@dataclass(slots=True)
class _OpenSegment:
    pending: PendingSegment
    container: Any
    stream: Any
    base: int
    """Input ticks subtracted from every timestamp, so that the file starts at 0."""
    cut_at: datetime
    """The first keyframe at or after this starts the next segment."""
    end_at: datetime
    """End of the latest packet written."""
    last_dts: int | None = None
    packets: int = 0


class Recorder:
    """Footage segments of one camera, `segment_s` long, written through `sink`.

    `allowed(at)` says whether the camera may record at wall-clock time `at` (its mode is not
    `off`); it is asked when a segment would start and every `check_every_s` of footage.
    A segment starts at a keyframe and ends at the first keyframe `segment_s` after its start
    or after UTC midnight, or where the input ends or recording is paused: consecutive
    segments meet exactly (one's `ended_at` is the next one's `started_at`).
    """

    def __init__(
        self,
        camera_id: str,
        sink: SegmentSink,
        *,
        segment_s: float,
        allowed: Callable[[datetime], bool] = _always,
        check_every_s: float = POLICY_CHECK_S,
    ) -> None:
        self.camera_id = camera_id
        self._sink = sink
        self._segment = timedelta(seconds=segment_s)
        self._allowed = allowed
        self._check_every = timedelta(seconds=check_every_s)
        self._state = RecorderState.WAITING
        self.error: str | None = None
        self.segments = 0
        """Segments indexed so far."""
        self.bytes = 0
        self.skipped = 0
        """Packets not recorded although recording was on: out of order, or never timed."""
        self._input: Any = None
        self._time_base: Fraction | None = None
        self._frame_s = 0.04
        self._anchor: tuple[float, datetime] | None = None
        self._buffer: deque[Any] = deque()
        self._synthetic = 0
        self._open: _OpenSegment | None = None
        self._last_end: datetime | None = None
        self._allowed_now: bool | None = None
        self._next_check: datetime | None = None
        self._failed = threading.Event()
        self._fail_lock = threading.Lock()
        self._closed = False
        self._done: queue.Queue[tuple[PendingSegment, datetime] | None] = queue.Queue(maxsize=4)
        self._finisher: threading.Thread | None = None

    @property
    def state(self) -> RecorderState:
        return RecorderState.FAILED if self._failed.is_set() else self._state

    # --- PacketTap (the reader thread) --------------------------------------------------------

    def begin(self, stream: Any, frame_s: float) -> None:
        if self._closed or self._failed.is_set():
            return
        try:
            self._end_input()
            self._input = stream
            self._time_base = stream.time_base
            self._frame_s = frame_s
            self._synthetic = 0
        except Exception as exc:  # the reader must never see the recorder fail
            self._unexpected(exc)

    def packet(self, packet: Any) -> None:
        if self._closed:
            return
        if self._failed.is_set():
            self._drop_open()
            return
        try:
            self._take(packet)
        except Exception as exc:
            self._unexpected(exc)

    def anchor(self, raw_s: float | None, at: datetime) -> None:
        if self._anchor is not None or self._input is None or self._closed or self._failed.is_set():
            return
        if raw_s is None:  # an untimed frame: the first packet of this input stands for it
            tb = self._time_base
            raw_s = float(self._buffer[0].pts * tb) if self._buffer and tb is not None else 0.0
        self._anchor = (raw_s, at)
        try:
            while self._buffer and not self._failed.is_set():
                self._write(self._buffer.popleft())
            self._buffer.clear()
        except Exception as exc:
            self._unexpected(exc)

    def close(self) -> None:
        """Finish and index the segment being written, then wait for the finisher. Idempotent."""
        if self._closed:
            return
        try:
            self._end_input()
        except Exception as exc:
            self._unexpected(exc)
        self._closed = True
        if self._failed.is_set():
            self._drop_open()
        if self._finisher is not None:
            self._done.put(None)
            self._finisher.join()
        self._state = RecorderState.STOPPED

    def describe(self) -> str:
        """One line for status views."""
        if self.error is not None:
            return self.error
        return f"{self.state}, {self.segments} segment(s)"

    # --- internals: reader thread -------------------------------------------------------------

    def _end_input(self) -> None:
        if self._buffer:
            self.skipped += len(self._buffer)
            log.warning(
                "camera %s: %d packet(s) not recorded: no frame of them decoded to time them",
                self.camera_id,
                len(self._buffer),
            )
            self._buffer.clear()
        if self._open is not None:
            self._finish_open(self._open.end_at)
        self._anchor = None
        self._input = None

    def _take(self, packet: Any) -> None:
        tb = self._time_base
        if self._input is None or tb is None or packet.size == 0:
            return  # the demuxer's flush packet, or no input begun
        if packet.pts is None and packet.dts is None:  # raw streams: place frames one interval apart
            packet.pts = packet.dts = round(self._synthetic * self._frame_s / tb)
            self._synthetic += 1
            if not packet.duration:
                packet.duration = max(1, round(self._frame_s / tb))
        elif packet.pts is None:
            packet.pts = packet.dts
        elif packet.dts is None:
            packet.dts = packet.pts
        if self._anchor is None:
            self._buffer.append(packet)
            if len(self._buffer) > MAX_BUFFERED:
                self._buffer.popleft()
                self.skipped += 1
            return
        self._write(packet)

    def _write(self, packet: Any) -> None:
        tb = self._time_base
        if self._anchor is None or tb is None:
            return
        raw_s, anchor_at = self._anchor
        at = anchor_at + timedelta(seconds=float(packet.pts * tb) - raw_s)
        seg = self._open
        if seg is None:
            if not packet.is_keyframe:
                return  # a segment can only start where a decoder can
            if self._last_end is not None and at < self._last_end - _REPEAT_SLACK:
                return  # a resumed stream repeating what is already recorded
            if not self._may_record(at):
                return
            seg = self._start(packet, at)
        elif packet.is_keyframe and at >= seg.cut_at:
            contiguous = (at - seg.end_at).total_seconds() <= _GAP_S
            self._finish_open(at if contiguous else seg.end_at)
            if not self._may_record(at):
                return
            seg = self._start(packet, at)
        elif self._next_check is not None and at >= self._next_check and not self._may_record(at):
            self._finish_open(seg.end_at)
            return
        if seg is not None:
            self._mux(seg, packet, at, tb)

    def _may_record(self, at: datetime) -> bool:
        try:
            ok = bool(self._allowed(at))
        except Exception as exc:  # the policy unreadable: keep the last answer, or wait
            ok = bool(self._allowed_now)
            log.warning(
                "camera %s: policy not readable for recording (%s); %s",
                self.camera_id,
                exc,
                "recording goes on" if ok else "not recording until it is",
            )
        if ok != self._allowed_now:
            log.info("camera %s: footage %s", self.camera_id, "recorded" if ok else "not recorded (mode off)")
        self._allowed_now = ok
        self._next_check = at + self._check_every
        if not ok:
            self._state = RecorderState.PAUSED
        return ok

    def _start(self, packet: Any, at: datetime) -> _OpenSegment | None:
        try:
            pending = self._sink.begin_segment(self.camera_id, at)
        except CitywatchError as exc:
            self._fail(str(exc))
            return None
        try:
            container = av.open(str(pending.temp), "w", format=_MP4)
        except OSError as exc:
            self._sink.discard(pending)
            self._fail(f"{_reason(exc)} while writing footage {pending.path}")
            return None
        try:
            stream = container.add_stream_from_template(self._input)
        except (ValueError, OSError) as exc:
            _close_quietly(container)
            self._sink.discard(pending)
            codec = getattr(getattr(self._input, "codec_context", None), "name", "this")
            self._fail(f"{codec} video cannot be copied into MP4 ({_reason(exc)})")
            return None
        seg = _OpenSegment(pending, container, stream, packet.dts, self._cut_at(at), at)
        self._open = seg
        self._state = RecorderState.RECORDING
        return seg

    def _cut_at(self, at: datetime) -> datetime:
        utc = at.astimezone(UTC)
        midnight = datetime.combine(utc.date() + timedelta(days=1), time(0), tzinfo=UTC)
        return min(at + self._segment, midnight)

    def _mux(self, seg: _OpenSegment, packet: Any, at: datetime, tb: Fraction) -> None:
        dts = packet.dts
        if seg.last_dts is not None and dts <= seg.last_dts:
            self.skipped += 1  # MP4 needs increasing decode times; a repeat or a glitch
            return
        duration = packet.duration or max(1, round(self._frame_s / tb))
        packet.stream = seg.stream
        packet.pts -= seg.base
        packet.dts -= seg.base
        try:
            seg.container.mux(packet)
        except OSError as exc:  # PyAV's errors are OSErrors too
            self._fail(f"{_reason(exc)} while writing footage {seg.pending.path}")
            self._drop_open()
            return
        seg.last_dts = dts
        seg.packets += 1
        seg.end_at = max(seg.end_at, at + timedelta(seconds=float(duration * tb)))

    def _finish_open(self, ended_at: datetime) -> None:
        seg, self._open = self._open, None
        if seg is None:
            return
        if self._state is RecorderState.RECORDING:
            self._state = RecorderState.WAITING
        try:
            seg.container.close()  # writes the index (moov) at the end of the file
        except OSError as exc:
            self._sink.discard(seg.pending)
            self._fail(f"{_reason(exc)} while writing footage {seg.pending.path}")
            return
        if seg.packets == 0:
            self._sink.discard(seg.pending)
            return
        self._last_end = ended_at
        if self._finisher is None:
            self._finisher = threading.Thread(
                target=self._finish_loop, name=f"footage-{self.camera_id}", daemon=True
            )
            self._finisher.start()
        self._done.put((seg.pending, max(ended_at, seg.pending.started_at)))

    def _drop_open(self) -> None:
        seg, self._open = self._open, None
        if seg is not None:
            _close_quietly(seg.container)
            self._sink.discard(seg.pending)

    # --- internals: either thread -------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        with self._fail_lock:
            if self._failed.is_set():
                return
            self.error = f"recording stopped: {reason}"
            self._failed.set()
        log.error("camera %s: %s", self.camera_id, self.error)

    def _unexpected(self, exc: Exception) -> None:
        log.debug("recorder of camera %s failed", self.camera_id, exc_info=True)
        self._fail(f"unexpected {type(exc).__name__}: {exc}")
        self._drop_open()

    # --- internals: finisher thread -----------------------------------------------------------

    def _finish_loop(self) -> None:
        while (item := self._done.get()) is not None:
            pending, ended_at = item
            if self._failed.is_set():
                self._sink.discard(pending)
                continue
            try:
                segment = self._sink.add_segment(pending, ended_at)
            except CitywatchError as exc:
                self._fail(str(exc))
            except Exception as exc:  # never die silently with segments queued behind
                log.debug("indexing a segment of camera %s failed", self.camera_id, exc_info=True)
                self._fail(f"unexpected {type(exc).__name__} while indexing {pending.path}: {exc}")
            else:
                self._indexed(segment)

    def _indexed(self, segment: Segment) -> None:
        self.segments += 1
        self.bytes += segment.size
        log.debug("camera %s: footage %s indexed (%d bytes)", self.camera_id, segment.path, segment.size)


def _close_quietly(container: Any) -> None:
    try:
        container.close()
    except (OSError, ValueError):
        log.debug("closing a footage file failed", exc_info=True)
