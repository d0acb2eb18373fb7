"""Fake detector and embedder: deterministic faces and templates, no models."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime

import numpy as np

from citywatch.domain.faces import FaceDetections, FloatArray
from citywatch.domain.frames import Frame, Image
from citywatch.domain.policy import (
    ALWAYS,
    Authorisation,
    AuthorisationStatus,
    ModeDecision,
    ProcessingMode,
)
from citywatch.domain.ports import SourceHealth


def face_box(x: float, y: float, size: float = 80) -> tuple[list[float], list[list[float]]]:
    """A frontal face: box and YuNet-ordered landmarks."""
    box = [x, y, x + size, y + size]
    s = size
    marks = [
        [x + 0.3 * s, y + 0.4 * s],
        [x + 0.7 * s, y + 0.4 * s],
        [x + 0.5 * s, y + 0.6 * s],
        [x + 0.35 * s, y + 0.8 * s],
        [x + 0.65 * s, y + 0.8 * s],
    ]
    return box, marks


class FakeDetector:
    """Finds faces where the test put bright squares: each square's top-left is a face."""

    name = "fake-detector"

    def __init__(self, size: float = 80) -> None:
        self.size = size
        self.calls = 0

    def detect(self, image: Image) -> FaceDetections:
        self.calls += 1
        ys, xs = np.nonzero(image[:, :, 2] == 255)
        corners = sorted(
            {
                (int(x), int(y))
                for x, y in zip(xs, ys, strict=True)
                if image[y - 1, x, 2] != 255 and image[y, x - 1, 2] != 255
            }
        )
        if not corners:
            return FaceDetections.empty()
        boxes, marks = zip(*(face_box(x, y, self.size) for x, y in corners), strict=True)
        return FaceDetections.from_arrays(list(boxes), [0.95] * len(boxes), list(marks))


class FakeEmbedder:
    """The template of a face is the mean colour of its crop's green channel, spread over D dims."""

    name = "fake-embedder"
    dim = 4
    default_threshold = 0.6

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, image: Image, faces: FaceDetections) -> FloatArray:
        self.calls += len(faces)
        out = []
        for x1, y1, x2, y2 in faces.xyxy.astype(int):
            g = float(image[y1:y2, x1:x2, 1].mean()) / 255
            out.append([g, g, g, g])
        return np.asarray(out, np.float32).reshape(len(faces), self.dim)


def frame_with_faces(faces: list[tuple[int, int, int]], size: int = 80) -> Image:
    """A noisy frame (so the blur gate passes) with faces at (x, y) of green level `g`."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 200, (360, 640, 3), dtype=np.uint8)
    for x, y, g in faces:
        image[y : y + size, x : x + size, 2] = 255
        image[y : y + size, x : x + size, 1] = g
    return image


class ListSource:
    """Frames from a list, optionally stalling after each one; `close()` stops it."""

    def __init__(self, frames: list[Frame], *, pause_s: float = 0.0, camera_id: str = "cam") -> None:
        self.camera_id = camera_id
        self.health = SourceHealth()
        self._frames = frames
        self._pause_s = pause_s
        self.closed = False

    def frames(self) -> Iterator[Frame]:
        for frame in self._frames:
            if self.closed:
                return
            self.health.frames_decoded += 1
            yield frame
            time.sleep(self._pause_s)

    def close(self) -> None:
        self.closed = True


def fixed_policy(
    mode: ProcessingMode, watchlists: tuple[str, ...] = ("wanted",)
) -> Callable[[datetime], ModeDecision]:
    """A policy that always answers `mode`, under one approved authorisation for `watchlists`."""
    auth = Authorisation(
        id=1,
        reference="AUTH-TEST",
        issuer="test court",
        legal_basis="test",
        objective="test",
        cameras=frozenset({"cam"}),
        watchlists=frozenset(watchlists),
        window=ALWAYS,
        status=AuthorisationStatus.APPROVED,
    )
    decision = ModeDecision(mode, mode, (auth,) if mode.identifies else ())
    return lambda _at: decision
