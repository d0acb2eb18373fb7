"""Blurring every face but one person's, for a subject-access export.

Fail closed, in two passes over a clip. First each frame's faces are detected and decided
(`FaceRedactor.boxes`): a face stays visible only where it matches the subject's template
within the threshold (the nearest such face in a frame), compared when it appears and every
few frames while it is followed; every other detected face is to be blurred. Then
(`spread`) each frame blurs its own boxes together with those of the `linger` frames before
and after it, so a face is covered through a missed detection and also in the frames just
before the detector first finds it. The blur is a solid fill (`redact`): nothing to undo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from citywatch.domain.faces import BoolArray, FaceDetections, FloatArray, iou_matrix
from citywatch.domain.frames import Image
from citywatch.domain.matching import Template
from citywatch.domain.ports import Detector, Embedder
from citywatch.media.images import blur_boxes, pixelate

LINGER_FRAMES = 8
"""Frames before and after a detection that its box is blurred in (about 0.3 s at 25 fps)."""
RECHECK_FRAMES = 10
"""A face followed from frame to frame is compared with the subject again this often."""
SAME_FACE_IOU = 0.5
"""Overlap with a face of the previous frame at which a face counts as the same one."""
EXPORT_CELLS = 1
"""Blur of an export: each grown box filled with its mean colour (irreversible)."""
UNVOUCHED_CELLS = 16
"""Footage no privacy rule vouches for (services.footage.clip_in_clear) is shown as a mosaic
this many cells across its longer side: a face filling the whole height of a 16:9 frame is
nine cells tall, past recognition by a person or a model; a face the detector would have
missed is covered like every other, since nothing here relies on finding faces."""

_NO_BOXES: FloatArray = np.zeros((0, 4), np.float32)


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
    """The first pass: call `boxes` on each frame of one clip, in order; a new clip needs a
    new redactor."""

    detector: Detector
    embedder: Embedder
    subject: Template
    threshold: float
    """Distance under which a face is the subject's (stricter than a search's)."""
    min_face_px: int = 0
    """Faces smaller than this are blurred without being compared (too small to be sure)."""
    recheck: int = RECHECK_FRAMES
    counts: RedactionCounts = field(default_factory=RedactionCounts)
    _previous: FloatArray = field(default_factory=lambda: _NO_BOXES)
    _decided: list[tuple[bool, int]] = field(default_factory=list)
    """Per face of the previous frame: the subject or not, and frames since it was compared."""

    def boxes(self, image: Image) -> FloatArray:
        """The boxes (N, 4) of the faces to blur in this frame: every detected face but the
        subject's."""
        faces = self.detector.detect(image)
        keep = self._decide(image, faces)
        self.counts.frames += 1
        self.counts.kept += int(keep.sum())
        self.counts.blurred += int((~keep).sum())
        return np.asarray(faces.xyxy[~keep], np.float32).reshape(-1, 4)

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


def spread(boxes: Sequence[FloatArray], linger: int = LINGER_FRAMES) -> list[FloatArray]:
    """The second pass's plan, pure: for each frame, its own boxes and those of the `linger`
    frames before and after it."""
    out: list[FloatArray] = []
    for i in range(len(boxes)):
        near = [b for b in boxes[max(0, i - linger) : i + linger + 1] if len(b)]
        out.append(np.concatenate(near).astype(np.float32) if near else _NO_BOXES)
    return out


def obscure(image: Image) -> Image:
    """The whole frame past recognition (`UNVOUCHED_CELLS`): for footage shown without a case
    and authorisation from a camera that did not identify."""
    return pixelate(image, cells=UNVOUCHED_CELLS)


def redact(image: Image, boxes: FloatArray) -> Image:
    """`image` with every box filled past recognition (the box grown by a fifth)."""
    if not len(boxes):
        return image
    return blur_boxes(image, boxes, cells=EXPORT_CELLS)
