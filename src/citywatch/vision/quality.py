"""Quality gate: size, sharpness, head pose from landmarks, detector score.

`measure` is pure arithmetic on pixels and landmarks; `QualityGate` applies the
configured thresholds and counts why faces were turned away.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from citywatch.config.vision import QualitySettings
from citywatch.domain.faces import FaceDetections, FloatArray
from citywatch.domain.frames import Image

SHARPNESS_SIDE = 64
"""Faces are resized to this side before the Laplacian, so sharpness compares across sizes."""
GOOD_FACE_PX = 112
"""Above this side a face counts as fully resolved for the quality score."""


@dataclass(frozen=True, slots=True)
class FaceMeasures:
    size_px: FloatArray
    sharpness: FloatArray
    yaw_deg: FloatArray
    roll_deg: FloatArray


def measure(image: Image, faces: FaceDetections) -> FaceMeasures:
    """Size, sharpness (variance of the Laplacian), yaw and roll of each face."""
    size = np.minimum(faces.width, faces.height).astype(np.float32)
    sharp = np.array([_sharpness(image, box) for box in faces.xyxy], np.float32).reshape(len(faces))
    yaw, roll = pose_from_landmarks(faces.landmarks)
    return FaceMeasures(size, sharp, yaw, roll)


def pose_from_landmarks(landmarks: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Approximate yaw and roll in degrees from eyes and nose tip.

    Roll is the slope of the eye line. Yaw treats the nose tip as standing in front of
    the eye line by half the eye distance: a turn of θ shifts it sideways by
    ½·d·sin θ while the eye distance shrinks to d·cos θ, so θ = atan(2·offset / d').
    """
    right_eye, left_eye, nose = landmarks[:, 0], landmarks[:, 1], landmarks[:, 2]
    eye_vec = left_eye - right_eye
    eye_dist = np.maximum(np.linalg.norm(eye_vec, axis=1), 1e-3)
    roll = np.degrees(np.arctan2(eye_vec[:, 1], eye_vec[:, 0]))
    unit = eye_vec / eye_dist[:, None]
    offset = ((nose - (right_eye + left_eye) / 2) * unit).sum(axis=1)
    yaw = np.degrees(np.arctan(2.0 * offset / eye_dist))
    return np.asarray(yaw, np.float32), np.asarray(roll, np.float32)


def quality_score(m: FaceMeasures, score: FloatArray, settings: QualitySettings) -> FloatArray:
    """One number in [0, 1] to rank shots: resolution, sharpness, frontal pose, confidence."""
    size_term = np.clip(m.size_px / GOOD_FACE_PX, 0, 1)
    sharp_term = np.sqrt(np.clip(m.sharpness / (4 * max(settings.min_sharpness, 1.0)), 0, 1))
    pose_term = np.cos(np.radians(np.clip(m.yaw_deg, -89, 89))) * np.cos(np.radians(m.roll_deg))
    product = size_term * sharp_term * np.clip(pose_term, 0, 1) * np.clip(score, 0, 1)
    return np.asarray(product, np.float32)


class QualityGate:
    """Keeps faces good enough to track and embed, scores them, and counts rejections."""

    def __init__(self, settings: QualitySettings) -> None:
        self._s = settings
        self.rejected: Counter[str] = Counter()

    def assess(self, image: Image, faces: FaceDetections) -> FaceDetections:
        if len(faces) == 0:
            return faces
        m = measure(image, faces)
        reasons = {
            "too small": m.size_px < self._s.min_face_px,
            "low score": faces.score < self._s.min_score,
            "blurred": m.sharpness < self._s.min_sharpness,
            "turned away": np.abs(m.yaw_deg) > self._s.max_yaw_deg,
            "tilted": np.abs(m.roll_deg) > self._s.max_roll_deg,
        }
        keep = np.ones(len(faces), bool)
        for reason, failed in reasons.items():
            self.rejected[reason] += int((failed & keep).sum())
            keep &= ~failed
        scored = faces.with_quality(quality_score(m, faces.score, self._s))
        return scored[keep]


def _sharpness(image: Image, box: FloatArray) -> float:
    h, w = image.shape[:2]
    x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
    x2, y2 = min(int(box[2]), w), min(int(box[3]), h)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return 0.0
    face = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    face = cv2.resize(face, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(face, cv2.CV_64F).var())
