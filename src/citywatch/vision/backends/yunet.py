"""YuNet face detector through OpenCV's `FaceDetectorYN`."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from citywatch.config.vision import YuNetSettings
from citywatch.domain.errors import Unavailable
from citywatch.domain.faces import FaceDetections, iou_matrix
from citywatch.domain.frames import Image
from citywatch.media.images import fit_within

LARGE_FACE_PASS_SIDE = 480
LARGE_FACE_MIN_PX = 256


class YuNetDetector:
    """Boxes, five landmarks and a score per face.

    Large images are shrunk to `max_side_px`; images smaller than `min_side_px` (tight
    face crops, where YuNet needs context) are padded with a grey border.
    """

    name = "yunet-2023mar"

    def __init__(self, settings: YuNetSettings, model_path: Path) -> None:
        if not model_path.is_file():
            raise Unavailable(f"YuNet model not found at {model_path}")
        self._settings = settings
        # OpenCV 5 warns on every load that DNN targets are not configurable; not news to users.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(model_path), "", (320, 320), settings.score_threshold, settings.nms_threshold, 5000
            )
        except cv2.error as exc:
            raise Unavailable(f"{model_path}: cannot load YuNet model ({exc.msg.strip()})") from None
        self._lock = threading.Lock()  # one FaceDetectorYN holds per-size state

    def detect(self, image: Image) -> FaceDetections:
        faces = self._detect_at(image, self._settings.max_side_px)
        if max(image.shape[:2]) > LARGE_FACE_PASS_SIDE * 1.5:
            faces = _merge(faces, self._large_faces(image))
        return faces

    def _large_faces(self, image: Image) -> FaceDetections:
        """YuNet under-scores faces far above its largest anchor (256 px), e.g. a portrait
        in a 12-megapixel photo: look again at a small scale and keep only large faces."""
        faces = self._detect_at(image, LARGE_FACE_PASS_SIDE)
        return faces[np.minimum(faces.width, faces.height) >= LARGE_FACE_MIN_PX]

    def _detect_at(self, image: Image, max_side: int) -> FaceDetections:
        small, factor = fit_within(image, max_side)
        pad = self._padding(small)
        if pad:
            small = np.asarray(
                cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128)),
                np.uint8,
            )
        h, w = small.shape[:2]
        with self._lock:
            self._net.setInputSize((w, h))
            _, raw = self._net.detect(small)
        if raw is None or len(raw) == 0:
            return FaceDetections.empty()
        raw = np.asarray(raw, np.float32)
        x, y, bw, bh = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3]
        faces = FaceDetections.from_arrays(
            xyxy=np.stack([x, y, x + bw, y + bh], axis=1),
            score=raw[:, 14],
            landmarks=raw[:, 4:14].reshape(-1, 5, 2),
        )
        faces = faces.scaled(factor, offset=(pad, pad))
        return _clip_to(faces, image.shape[1], image.shape[0])

    def _padding(self, image: Image) -> int:
        longest = int(max(image.shape[:2]))
        if longest >= self._settings.min_side_px:
            return 0
        return (self._settings.min_side_px - longest) // 2 + 1


def _clip_to(faces: FaceDetections, width: int, height: int) -> FaceDetections:
    xyxy = faces.xyxy.copy()
    xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
    xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
    keep = (xyxy[:, 2] - xyxy[:, 0] > 1) & (xyxy[:, 3] - xyxy[:, 1] > 1)
    clipped = FaceDetections(xyxy, faces.score, faces.landmarks, faces.quality)
    return clipped[keep]


def _merge(a: FaceDetections, b: FaceDetections) -> FaceDetections:
    """Union of two detection sets; where boxes overlap, the higher score wins."""
    if len(b) == 0:
        return a
    if len(a) == 0:
        return b
    iou = iou_matrix(a.xyxy, b.xyxy)
    keep_a = np.ones(len(a), bool)
    keep_b = np.ones(len(b), bool)
    for i, j in zip(*np.nonzero(iou > 0.3), strict=True):
        if a.score[i] >= b.score[j]:
            keep_b[j] = False
        else:
            keep_a[i] = False
    kept_a, kept_b = a[keep_a], b[keep_b]
    return FaceDetections(
        np.concatenate([kept_a.xyxy, kept_b.xyxy]),
        np.concatenate([kept_a.score, kept_b.score]),
        np.concatenate([kept_a.landmarks, kept_b.landmarks]),
    )
