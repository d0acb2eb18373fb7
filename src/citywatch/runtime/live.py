"""The cameras running in this process, by id: what the console shows of each (its state,
rate, reconnects, the latest frame its pipeline looked at). Holds the workers only; the
frame is the pipeline's one latest view, in memory, never a history and never on disk."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from citywatch.runtime.pipeline import FrameView
from citywatch.runtime.worker import CameraStatus, CameraWorker

STALLED_AFTER_S = 10.0
"""A live camera whose pipeline has seen no frame for this long is shown as stalled."""


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
    a later worker for the same camera replaces the earlier one."""

    def __init__(self, *, stalled_after_s: float = STALLED_AFTER_S) -> None:
        self._workers: dict[str, CameraWorker] = {}
        self._lock = threading.Lock()
        self._stalled_after_s = stalled_after_s

    def add(self, worker: CameraWorker) -> None:
        with self._lock:
            self._workers[worker.source.camera_id] = worker

    def workers(self) -> list[CameraWorker]:
        """The newest worker of each camera, in the order the cameras were first added."""
        with self._lock:
            return list(self._workers.values())

    def worker(self, camera_id: str) -> CameraWorker | None:
        with self._lock:
            return self._workers.get(camera_id)

    def status(self, camera_id: str) -> LiveStatus:
        worker = self.worker(camera_id)
        if worker is None:
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

    def view(self, camera_id: str) -> FrameView | None:
        """The latest frame of the camera, faces blurred unless its mode identified; None when
        no worker runs it or it has looked at no frame (or its mode is off or record)."""
        worker = self.worker(camera_id)
        return None if worker is None else worker.pipeline.view()
