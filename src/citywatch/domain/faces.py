"""Faces in one frame, struct-of-arrays, the one thing that crosses detector → quality → tracker."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from citywatch.domain.errors import InvalidInput

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

LANDMARK_NAMES = ("right_eye", "left_eye", "nose_tip", "right_mouth", "left_mouth")
"""Order of the five landmarks (YuNet's order; `right` is the subject's right)."""


def _f32(a: npt.ArrayLike, shape: tuple[int, ...]) -> FloatArray:
    arr = np.asarray(a, dtype=np.float32)
    return arr.reshape(shape)


@dataclass(frozen=True)
class FaceDetections:
    """N faces: boxes `xyxy (N,4)` in pixels, `score (N,)`, `landmarks (N,5,2)`,
    `quality (N,)` in [0, 1] once the quality gate has scored them, NaN before."""

    xyxy: FloatArray
    score: FloatArray
    landmarks: FloatArray
    quality: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.shape != (n, 4):
            raise InvalidInput(f"xyxy must be (N,4), got {self.xyxy.shape}")
        if self.score.shape != (n,):
            raise InvalidInput(f"score must be (N,), got {self.score.shape}")
        if self.landmarks.shape != (n, 5, 2):
            raise InvalidInput(f"landmarks must be (N,5,2), got {self.landmarks.shape}")
        if self.quality.shape == (0,) and n:
            object.__setattr__(self, "quality", np.full(n, np.nan, np.float32))
        if self.quality.shape != (n,):
            raise InvalidInput(f"quality must be (N,), got {self.quality.shape}")

    @classmethod
    def empty(cls) -> FaceDetections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            score=np.zeros(0, np.float32),
            landmarks=np.zeros((0, 5, 2), np.float32),
        )

    @classmethod
    def from_arrays(
        cls, xyxy: npt.ArrayLike, score: npt.ArrayLike, landmarks: npt.ArrayLike
    ) -> FaceDetections:
        n = len(np.asarray(score).reshape(-1))
        return cls(_f32(xyxy, (n, 4)), _f32(score, (n,)), _f32(landmarks, (n, 5, 2)))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: BoolArray | IntArray | slice | int) -> FaceDetections:
        """Select faces by boolean mask, index array, slice or single index."""
        if isinstance(index, int):
            index = np.array([index])
        return FaceDetections(
            xyxy=self.xyxy[index],
            score=self.score[index],
            landmarks=self.landmarks[index],
            quality=self.quality[index],
        )

    def with_quality(self, quality: npt.ArrayLike) -> FaceDetections:
        return FaceDetections(self.xyxy, self.score, self.landmarks, _f32(quality, (len(self),)))

    @property
    def width(self) -> FloatArray:
        return self.xyxy[:, 2] - self.xyxy[:, 0]

    @property
    def height(self) -> FloatArray:
        return self.xyxy[:, 3] - self.xyxy[:, 1]

    def scaled(self, factor: float, offset: tuple[float, float] = (0.0, 0.0)) -> FaceDetections:
        """Map coordinates: `(p - offset) * factor`, for detections made on a resized or padded image."""
        off = np.asarray(offset, np.float32)
        return FaceDetections(
            xyxy=((self.xyxy.reshape(-1, 2, 2) - off) * factor).reshape(-1, 4),
            score=self.score,
            landmarks=(self.landmarks - off) * factor,
            quality=self.quality,
        )


def iou_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """Pairwise intersection over union of two sets of xyxy boxes, shape (len(a), len(b))."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)
