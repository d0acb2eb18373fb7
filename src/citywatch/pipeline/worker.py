"""One camera at work: a reader thread feeding a bounded queue, a pipeline thread draining it."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from citywatch.domain.errors import CitywatchError
from citywatch.domain.frames import Frame
from citywatch.domain.ports import FrameSource, SourceState
from citywatch.ingest.recorder import Recorder
from citywatch.pipeline.camera import CameraPipeline, TrackOutcome

log = logging.getLogger(__name__)

_END = None


@dataclass(frozen=True, slots=True)
class CameraStatus:
    camera_id: str
    state: str
    frames: int
    dropped: int
    fps: float
    active_tracks: int
    sightings: int
    matches: int
    alerts: int
    reconnects: int
    error: str | None
    mode: str = ""
    """The processing mode the policy gives the camera now (empty before the first frame)."""
    recording: str = ""
    """What the footage recorder is doing (empty when the camera records nothing)."""

    @classmethod
    def failed(cls, camera_id: str, error: str) -> CameraStatus:
        """A camera that could not even be opened."""
        return cls(camera_id, "failed", 0, 0, 0.0, 0, 0, 0, 0, 0, error)


class CameraWorker:
    """`live` sources drop frames when the pipeline falls behind (counted); files never do.

    `recorder` is the source's packet tap; the reader thread closes it when reading ends, so
    that the last segment is indexed before the worker is done.
    """

    def __init__(
        self,
        source: FrameSource,
        pipeline: CameraPipeline,
        *,
        live: bool,
        on_outcome: Callable[[TrackOutcome], None] = lambda _: None,
        queue_size: int = 16,
        recorder: Recorder | None = None,
    ) -> None:
        self.source = source
        self.pipeline = pipeline
        self.recorder = recorder
        self._live = live
        self._on_outcome = on_outcome
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._dropped = 0
        self._error: str | None = None
        self.failure: CitywatchError | None = None
        """The error that stopped the source, kept with its type for the caller to re-raise."""
        self.pipeline_error: CitywatchError | None = None
        """The last processing or storage error (the camera kept going)."""
        self.unexpected_errors = 0
        self._started = 0.0
        self._finished = 0.0
        self.last_frame_s = 0.0
        """`time.monotonic()` when the source last gave a frame (0: none yet): a live camera
        quiet for long is stalled, whatever its source says."""
        self._threads = [
            threading.Thread(target=self._read, name=f"read-{source.camera_id}", daemon=True),
            threading.Thread(target=self._work, name=f"work-{source.camera_id}", daemon=True),
        ]

    def start(self) -> None:
        self._started = time.monotonic()
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Stop reading; frames already queued are still processed and open tracks stored."""
        self._stop.set()
        self.source.close()

    def join(self, timeout_s: float | None = None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for t in self._threads:
            t.join(None if deadline is None else max(deadline - time.monotonic(), 0))
        return not any(t.is_alive() for t in self._threads)

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def live(self) -> bool:
        """A live source (a stream, or a file replayed as one): it never ends on its own."""
        return self._live

    @property
    def started(self) -> bool:
        return self._started > 0

    @property
    def done(self) -> bool:
        return not any(t.is_alive() for t in self._threads)

    def status(self) -> CameraStatus:
        health = self.source.health
        stats = self.pipeline.stats
        end = self._finished or time.monotonic()
        elapsed = max(end - self._started, 1e-6) if self._started else 0.0
        state = "failed" if self._error else str(health.state)
        recorder = self.recorder
        error = (
            self._error
            or health.last_error
            or (str(self.pipeline_error) if self.pipeline_error else None)
            or (recorder.error if recorder is not None else None)
        )
        return CameraStatus(
            camera_id=self.source.camera_id,
            state=state,
            frames=health.frames_decoded,
            dropped=self._dropped,
            fps=health.frames_decoded / elapsed if elapsed else 0.0,
            active_tracks=self.pipeline.active_tracks,
            sightings=stats.sightings,
            matches=stats.matches,
            alerts=stats.alerts,
            reconnects=health.reconnects,
            error=error,
            mode="" if self.pipeline.decision is None else str(self.pipeline.decision.mode),
            recording="" if recorder is None else recorder.describe(),
        )

    def _read(self) -> None:
        try:
            for frame in self.source.frames():
                if self._stop.is_set():
                    break
                self.last_frame_s = time.monotonic()
                self._enqueue(frame)
        except CitywatchError as exc:
            self._error = str(exc)
            self.failure = exc
            log.debug("camera %s: %s", self.source.camera_id, exc)
        except Exception as exc:  # a reader must never die silently
            self._error = f"unexpected error reading source: {type(exc).__name__}"
            log.error("camera %s: reader crashed: %s", self.source.camera_id, type(exc).__name__)
        finally:
            if self.recorder is not None:
                self.recorder.close()  # the last segment indexed before the pipeline's end
            self._put_end()

    def _put_end(self) -> None:
        # The pipeline thread may have stopped on its own; never block on a queue nobody reads.
        while True:
            try:
                self._queue.put(_END, timeout=0.2)
                return
            except queue.Full:
                if not self._threads[1].is_alive():
                    return

    def _enqueue(self, frame: Frame) -> None:
        if not self._live:
            while not self._stop.is_set():
                try:
                    self._queue.put(frame, timeout=0.2)
                    return
                except queue.Full:
                    continue
            return
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self._dropped += 1

    def _work(self) -> None:
        try:
            while (frame := self._queue.get()) is not _END:
                self._handle(partial(self.pipeline.process, frame))
        finally:
            # Whatever happened, open tracks become sightings before the thread ends.
            self._handle(self.pipeline.flush)
            self._stop.set()
            self.source.close()
            self._finished = time.monotonic()
            if self.source.health.state not in (SourceState.FAILED, SourceState.ENDED) and not self._error:
                self.source.health.state = SourceState.ENDED

    def _handle(self, step: Callable[[], list[TrackOutcome]]) -> None:
        try:
            for outcome in step():
                self._on_outcome(outcome)
        except CitywatchError as exc:  # e.g. disk full: say so, keep watching
            self.pipeline_error = exc
            log.error("camera %s: %s", self.source.camera_id, exc)
        except Exception as exc:  # a model or library failing on one frame must not stop the camera
            self.unexpected_errors += 1
            log.error(
                "camera %s: unexpected %s in the pipeline: %s", self.source.camera_id, type(exc).__name__, exc
            )
            log.debug("details", exc_info=True)
