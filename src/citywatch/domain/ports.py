"""The seams between stages, as protocols. Adapters live in their stage's package."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from citywatch.domain.faces import FaceDetections, FloatArray
from citywatch.domain.frames import Frame, Image


class SourceState(StrEnum):
    OPENING = "opening"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    STALLED = "stalled"
    ENDED = "ended"
    FAILED = "failed"


@dataclass(slots=True)
class SourceHealth:
    """What a source reports about itself; read by the status view and the watchdog."""

    state: SourceState = SourceState.OPENING
    frames_decoded: int = 0
    frames_sampled: int = 0
    reconnects: int = 0
    last_error: str | None = None
    warnings: list[str] = field(default_factory=list)


class FrameSource(Protocol):
    """Frames of one camera, already sampled at the detection rate."""

    camera_id: str
    health: SourceHealth

    def frames(self) -> Iterator[Frame]:
        """Yield sampled frames until the source ends, is closed, or fails for good.

        Raises `SourceUnavailable` when it cannot be opened (after its retries) and
        `CorruptMedia` when it is not decodable media at all.
        """
        ...

    def close(self) -> None:
        """Ask `frames()` to stop at the next frame; safe from another thread."""
        ...


class Detector(Protocol):
    """Finds faces in an image."""

    name: str

    def detect(self, image: Image) -> FaceDetections: ...


class Embedder(Protocol):
    """Turns faces into templates; one backend file per model."""

    name: str
    dim: int
    default_threshold: float
    """Euclidean distance under which two templates are the same person, as calibrated."""

    def embed(self, image: Image, faces: FaceDetections) -> FloatArray:
        """One template per face, shape (len(faces), dim)."""
        ...
