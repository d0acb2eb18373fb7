"""Blurring every face but one person's, for a subject-access export.

Fail closed: a face stays visible only where it is detected and matches the subject's
template within the threshold (the nearest such face in a frame), compared when it appears
and every few frames while it is followed. Every other
detected face is pixelated past recognition, and its box stays blurred for a few frames
after the detector last saw it, so a single missed detection does not reveal it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from citywatch.domain.faces import BoolArray, FaceDetections, FloatArray, iou_matrix
from citywatch.domain.frames import Image
from citywatch.domain.matching import Template
from citywatch.domain.ports import Detector, Embedder
from citywatch.media.images import blur_boxes

LINGER_FRAMES = 8
"""Frames a blurred box outlives its last detection (about 0.3 s at 25 fps)."""
RECHECK_FRAMES = 10
"""A face followed from frame to frame is compared with the subject again this often."""
SAME_FACE_IOU = 0.5
"""Overlap with a face of the previous frame at which a face counts as the same one."""


@dataclass
class RedactionCounts:
    frames: int = 0
    kept: int = 0
    """Faces left visible (the subject's)."""
    blurred: int = 0
    """Detected faces blurred (others', and any face not sure to be the subject's)."""

    def add(self, other: RedactionCounts) -> None:
        self.frames += other.frames
        self.kept += other.kept
        self.blurred += other.blurred


@dataclass
class FaceRedactor:
    """Call it on each frame of one clip, in order; a new clip needs a new redactor."""

    detector: Detector
    embedder: Embedder
    subject: Template
    threshold: float
    min_face_px: int = 0
    """Faces smaller than this are blurred without being compared (too small to be sure)."""
    linger: int = LINGER_FRAMES
    recheck: int = RECHECK_FRAMES
    counts: RedactionCounts = field(default_factory=RedactionCounts)
    _recent: list[tuple[FloatArray, int]] = field(default_factory=list)
    _previous: FloatArray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    _decided: list[tuple[bool, int]] = field(default_factory=list)
    """Per face of the previous frame: the subject or not, and frames since it was compared."""

    def __call__(self, image: Image) -> Image:
        faces = self.detector.detect(image)
        keep = self._decide(image, faces)
        others = faces.xyxy[~keep]
        self._recent = [(box, left - 1) for box, left in self._recent if left > 1]
        self._recent += [(box, self.linger) for box in others]
        self.counts.frames += 1
        self.counts.kept += int(keep.sum())
        self.counts.blurred += len(others)
        if not self._recent:
            return image
        return blur_boxes(image, np.stack([box for box, _ in self._recent]))

    def _decide(self, image: Image, faces: FaceDetections) -> BoolArray:
        """Which faces are the subject's. The subject's face is compared in every frame (a
        cut to another shot can put a stranger where the subject was). A face that continues
        another person's face of the previous frame (IoU ≥ SAME_FACE_IOU) stays blurred
        without being compared, until `recheck` frames have passed since it was."""
        n = len(faces)
        keep = np.zeros(n, dtype=bool)
        age = np.zeros(n, dtype=int)
        compare = np.minimum(faces.width, faces.height) >= self.min_face_px
        if n and len(self._previous):
            overlap = iou_matrix(faces.xyxy, self._previous)
            for i in np.flatnonzero(compare & (overlap.max(axis=1) >= SAME_FACE_IOU)):
                was_subject, since = self._decided[int(overlap[i].argmax())]
                if not was_subject and since + 1 < self.recheck:
                    age[i], compare[i] = since + 1, False
        if compare.any():
            idx = np.flatnonzero(compare)
            distance = np.linalg.norm(self.embedder.embed(image, faces[idx]) - self.subject[None], axis=1)
            nearest = int(np.argmin(distance))
            keep[idx[nearest]] = bool(distance[nearest] < self.threshold)
        self._previous, self._decided = faces.xyxy, list(zip(keep.tolist(), age.tolist(), strict=True))
        return keep
