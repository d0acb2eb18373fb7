"""The cameras running in this process, by id: what the console shows of each (its state,
rate, reconnects, the latest frame its pipeline looked at), and the cameras that could not
even be opened, with why. Holds the workers only; the frame is the pipeline's one latest
view, in memory, never a history and never on disk, and never shown once old or stopped."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from citywatch.domain.errors import NotFound, Unavailable
from citywatch.pipeline.camera import FrameView
from citywatch.pipeline.worker import CameraStatus, CameraWorker

STALLED_AFTER_S = 10.0
"""A live camera whose pipeline has seen no frame for this long is shown as stalled, and a
frame older than this is not shown at all."""


class LiveState(StrEnum):
    """A camera's state as the console names it."""

    NOT_RUNNING = "not running"
    """No worker in this process (the API is served without `citywatch run`, or not started yet)."""
    OPENING = "opening"
    LIVE = "live"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    FAILED = "failed"


_FROM_SOURCE = {
    "opening": LiveState.OPENING,
    "running": LiveState.LIVE,
    "reconnecting": LiveState.RECONNECTING,
    "stalled": LiveState.STALLED,
    "ended": LiveState.STOPPED,
    "failed": LiveState.FAILED,
}


@dataclass(frozen=True, slots=True)
class LiveStatus:
    camera_id: str
    state: LiveState
    fps: float = 0.0
    frames: int = 0
    dropped: int = 0
    reconnects: int = 0
    last_frame_at: datetime | None = None
    """When the source last gave a frame (wall-clock, whatever the frame's own time)."""
    error: str | None = None


class LiveCameras:
    """The registry workers are added to as the runtime builds them (`Runtime.camera_worker`);
    a later worker for the same camera replaces the earlier one, and a camera that failed to
    open (`fail`) is kept with its error until a worker replaces it."""

    def __init__(self, *, stalled_after_s: float = STALLED_AFTER_S) -> None:
        self._workers: dict[str, CameraWorker] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stalled_after_s = stalled_after_s

    def add(self, worker: CameraWorker) -> None:
        with self._lock:
            self._failed.pop(worker.source.camera_id, None)
            self._workers[worker.source.camera_id] = worker

    def fail(self, camera_id: str, error: str) -> None:
        """The camera could not be opened: it has no worker, and is failed, not `not running`."""
        with self._lock:
            self._workers.pop(camera_id, None)
            self._failed[camera_id] = error

    def remove(self, camera_id: str) -> None:
        """The camera was taken out of the city: it is `not running` here from now on."""
        with self._lock:
            self._workers.pop(camera_id, None)
            self._failed.pop(camera_id, None)

    def workers(self) -> list[CameraWorker]:
        """The newest worker of each camera, in the order the cameras were first added."""
        with self._lock:
            return list(self._workers.values())

    def failed(self) -> list[CameraStatus]:
        """The cameras that failed to open (no worker), each with its error."""
        with self._lock:
            return [CameraStatus.failed(camera_id, error) for camera_id, error in self._failed.items()]

    def worker(self, camera_id: str) -> CameraWorker | None:
        with self._lock:
            return self._workers.get(camera_id)

    def status(self, camera_id: str) -> LiveStatus:
        worker = self.worker(camera_id)
        if worker is None:
            with self._lock:
                error = self._failed.get(camera_id)
            if error is not None:
                return LiveStatus(camera_id, LiveState.FAILED, error=error)
            return LiveStatus(camera_id, LiveState.NOT_RUNNING)
        status: CameraStatus = worker.status()
        state = _FROM_SOURCE.get(status.state, LiveState.FAILED)
        last = None
        if worker.last_frame_s:
            quiet_s = time.monotonic() - worker.last_frame_s
            last = datetime.now(UTC) - timedelta(seconds=quiet_s)
            if state is LiveState.LIVE and quiet_s > self._stalled_after_s:
                state = LiveState.STALLED
        return LiveStatus(
            camera_id,
            state,
            fps=status.fps,
            frames=status.frames,
            dropped=status.dropped,
            reconnects=status.reconnects,
            last_frame_at=last,
            error=status.error,
        )

    def view(self, camera_id: str, *, identifies_now: bool) -> FrameView | None:
        """`frame`, or None where it says there is none to show."""
        try:
            return self.frame(camera_id, identifies_now=identifies_now)
        except (NotFound, Unavailable):
            return None

    def frame(self, camera_id: str, *, identifies_now: bool) -> FrameView:
        """The latest frame of the camera, faces blurred unless its own mode identified and
        `identifies_now` (the camera's mode now, from the policy). Raises Unavailable when no
        worker runs the camera, its worker has stopped (the frame is dropped then) or the frame
        is older than `stalled_after_s`; NotFound when it has looked at no frame (or its mode
        is off or record, where frames are not looked at)."""
        worker = self.worker(camera_id)
        if worker is None:
            state = self.status(camera_id).state
            if state is LiveState.FAILED:
                raise Unavailable(f"camera {camera_id} failed to open: there is no frame to show")
            raise Unavailable(f"camera {camera_id} is not running here: there is no frame to show")
        if worker.started and worker.done:
            worker.pipeline.forget_view()
            raise Unavailable(f"camera {camera_id} has stopped: its last frame is no longer shown")
        view = worker.pipeline.view(identifies_now=identifies_now)
        if view is None:
            state = self.status(camera_id).state
            raise NotFound(
                f"camera {camera_id} ({state}) has no frame to show yet: none seen, or its mode "
                "is off or record, where frames are not looked at"
            )
        age_s = time.monotonic() - view.seen_s
        if age_s > self._stalled_after_s:
            raise Unavailable(
                f"camera {camera_id} has looked at no frame for {age_s:.0f} s: "
                f"a frame older than {self._stalled_after_s:.0f} s is not shown"
            )
        return view
