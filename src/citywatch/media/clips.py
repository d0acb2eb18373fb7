"""Cutting a clip out of footage segments by stream copy: packets concatenated, not re-encoded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from citywatch.domain.errors import Conflict, CorruptMedia

_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ClipPart:
    """One footage file and the wall-clock time of its first frame."""

    path: Path
    started_at: datetime
    label: str
    """How messages name it, e.g. `segment #12`."""


@dataclass(frozen=True, slots=True)
class ClipSpan:
    """What went into a clip: the footage it holds runs from `started_at` to `ended_at`."""

    started_at: datetime
    ended_at: datetime
    packets: int
    parts: tuple[str, ...]
    """Labels of the parts that gave packets."""


def write_clip(parts: list[ClipPart], since: datetime, until: datetime, out: Path) -> ClipSpan | None:
    """Write the video of `parts` (in time order) between `since` and `until` to `out` as MP4.

    Packets are copied as they are: the clip starts at the keyframe at or before `since` (a
    decoder needs it) and ends with the last frame before `until`; timestamps are rebased so
    that the clip starts at 0 and the parts follow one another on one timeline (a gap between
    segments stays a gap). None when no frame lies in the window (nothing is written then).
    Parts that change codec, size or codec setup midway raise `Conflict`; a damaged file,
    `CorruptMedia`.
    """
    writer = _ClipWriter(since, until)
    try:
        for part in parts:
            if writer.past_end:
                break
            writer.add(part, out)
    finally:
        writer.close()
    return writer.span()


def _params(stream: Any) -> tuple[object, ...]:
    ctx = stream.codec_context
    return (ctx.name, ctx.width, ctx.height, bytes(ctx.extradata or b""))


class _PartClock:
    """One part's timestamps against the wall clock: its first packet's pts is `started_at`."""

    def __init__(self, started_at: datetime, video: Any) -> None:
        self.started_at = started_at
        self.tb: Fraction = video.time_base
        rate = video.average_rate or video.guessed_rate
        self.frame_ticks = max(1, round(1 / (rate * self.tb))) if rate else 1
        self._first: int | None = None

    def ticks(self, ts: int) -> int:
        if self._first is None:
            self._first = ts
        return ts - self._first

    def at(self, pts: int) -> datetime:
        return self.started_at + timedelta(seconds=float(self.ticks(pts) * self.tb))


class _ClipWriter:
    def __init__(self, since: datetime, until: datetime) -> None:
        self._since = since
        self._until = until
        self._sink: Any = None
        self._stream: Any = None
        self._params: tuple[object, ...] | None = None
        self._t0: datetime | None = None
        """Wall-clock time of the clip's first frame (its timestamp 0)."""
        self._shift = 0
        self._last_dts: int | None = None
        self._end: datetime | None = None
        self._packets = 0
        self._used: list[str] = []
        self._gop: list[tuple[Any, datetime]] = []
        self.past_end = False

    def add(self, part: ClipPart, out: Path) -> None:
        try:
            source = av.open(str(part.path))
        except av.FFmpegError as exc:
            raise CorruptMedia(f"{part.label} ({part.path}) cannot be read: {exc}") from None
        with source:
            if not source.streams.video or source.streams.video[0].time_base is None:
                raise CorruptMedia(f"{part.label} ({part.path}) holds no timed video")
            video = source.streams.video[0]
            self._check(part, video, out)
            clock = _PartClock(part.started_at, video)
            used = False
            try:
                for packet in source.demux(video):
                    if packet.size == 0 or packet.pts is None or packet.dts is None:
                        continue
                    at = clock.at(packet.pts)
                    if at >= self._until:
                        self.past_end = True
                        break
                    for ready, ready_at in self._ready(packet, at):
                        used |= self._mux(ready, ready_at, clock)
            except av.FFmpegError as exc:
                raise CorruptMedia(f"{part.label} ({part.path}) is damaged: {exc}") from None
            if used:
                self._used.append(part.label)

    def _ready(self, packet: Any, at: datetime) -> list[tuple[Any, datetime]]:
        """The packets to write now: none before the clip starts, then the whole group of
        pictures that `since` falls in (from its keyframe), then each packet as it comes."""
        if self._t0 is not None:
            return [(packet, at)]
        if packet.is_keyframe:
            self._gop = []
        self._gop.append((packet, at))
        if at < self._since or not self._gop[0][0].is_keyframe:
            return []
        ready, self._gop = self._gop, []
        self._t0 = ready[0][1]
        return ready

    def _check(self, part: ClipPart, video: Any, out: Path) -> None:
        params = _params(video)
        if self._sink is None:
            self._sink = av.open(str(out), "w", format="mp4")
            self._stream = self._sink.add_stream_from_template(video)
            self._params = params
        elif params != self._params:
            raise Conflict(
                f"the footage changes format at {part.label} ({part.started_at.isoformat()}): "
                "cut the clip before or after that time"
            )

    def _mux(self, packet: Any, at: datetime, clock: _PartClock) -> bool:
        if self._t0 is None:
            return False
        offset = round(Fraction((clock.started_at - self._t0) // _ONE_US, 1_000_000) / clock.tb)
        pts = offset + clock.ticks(packet.pts)
        dts = offset + clock.ticks(packet.dts)
        if self._last_dts is None and dts < 0:
            self._shift = -dts  # decoding starts before the first frame shows (B-frames)
        pts, dts = pts + self._shift, dts + self._shift
        if self._last_dts is not None and dts <= self._last_dts:
            return False  # overlapping footage: MP4 needs increasing decode times
        packet.stream = self._stream
        packet.pts, packet.dts = pts, dts
        self._sink.mux(packet)
        self._last_dts = dts
        self._packets += 1
        duration = timedelta(seconds=float((packet.duration or clock.frame_ticks) * clock.tb))
        end = at + duration
        self._end = end if self._end is None else max(self._end, end)
        return True

    def span(self) -> ClipSpan | None:
        if self._t0 is None or self._end is None or not self._packets:
            return None
        return ClipSpan(self._t0, self._end, self._packets, tuple(self._used))

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
