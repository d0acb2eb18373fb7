"""Which decoded frames go to detection. Pure: no I/O, no clock, no decoding."""

from __future__ import annotations

from dataclasses import dataclass

from citywatch.domain.errors import InvalidInput

DEFAULT_STREAM_FPS = 25.0
"""Frame rate assumed for frames without timestamps when the stream reports none."""

_EPSILON_S = 1e-6
"""Float slack, so that three frames of exactly 1/30 s count as a full 0.1 s interval."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one frame and the time (seconds) it was judged by."""

    keep: bool
    t_s: float


class Sampler:
    """Keeps frames at `detect_fps` on average, on a grid of `1 / detect_fps` intervals.

    The first frame is kept and starts the grid; after that a frame is kept once its time
    reaches the next grid point, and the grid moves on by one interval. Measuring from the
    grid rather than from the last kept frame keeps the rate true: 25 fps sampled at 8 fps
    keeps every 3rd or 4th frame (8 a second), not every 4th (6.25). When the stream jumps
    ahead by more than an interval (dropped frames, a gap) or goes back (a stream restarting
    its clock), the grid restarts at that frame, so a gap never causes a burst.

    A frame without a timestamp (`None`, as in raw `.h264` files) is placed one frame
    interval (`1 / stream_fps`) after the previous frame, or at `index / stream_fps` when
    no frame had a timestamp yet.
    """

    def __init__(self, detect_fps: float, *, stream_fps: float | None = None) -> None:
        if not detect_fps > 0:
            raise InvalidInput(f"detect_fps must be positive, got {detect_fps}")
        if stream_fps is not None and not stream_fps > 0:
            raise InvalidInput(f"stream_fps must be positive or None, got {stream_fps}")
        self.interval_s = 1.0 / detect_fps
        self.frame_s = 1.0 / (stream_fps or DEFAULT_STREAM_FPS)
        self._seen = 0
        self._last_t: float | None = None
        self._due: float | None = None

    def decide(self, pts_s: float | None) -> Decision:
        """Judge the next decoded frame, given its timestamp in seconds (or `None`)."""
        if pts_s is not None:
            t = pts_s
        elif self._last_t is not None:
            t = self._last_t + self.frame_s
        else:
            t = self._seen * self.frame_s
        self._seen += 1
        self._last_t = t
        due = self._due
        if due is None or t < due - 2 * self.interval_s or t >= due + self.interval_s:
            self._due = t + self.interval_s  # first frame, clock went back, or a gap: restart
            return Decision(keep=True, t_s=t)
        if t >= due - _EPSILON_S:
            self._due = due + self.interval_s
            return Decision(keep=True, t_s=t)
        return Decision(keep=False, t_s=t)

    def keep(self, pts_s: float | None) -> bool:
        """Whether the next decoded frame goes to detection."""
        return self.decide(pts_s).keep
