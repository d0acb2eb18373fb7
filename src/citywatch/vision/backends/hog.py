"""dlib's HOG face detector: the fallback when the YuNet model file is absent."""

from __future__ import annotations

import threading

import cv2
import dlib
import numpy as np

from citywatch.config.vision import HogSettings
from citywatch.domain.faces import FaceDetections
from citywatch.domain.frames import Image
from citywatch.media.images import fit_within
from citywatch.vision.backends.dlib_models import shape_predictor_5


class HogDetector:
    """Boxes from HOG; landmarks from dlib's 5-point model mapped to YuNet's order
    (eye centres from the eye corners, mouth corners estimated from eyes and nose)."""

    name = "dlib-hog"

    def __init__(self, settings: HogSettings) -> None:
        self._settings = settings
        self._detector = dlib.get_frontal_face_detector()
        self._shape = shape_predictor_5()
        self._lock = threading.Lock()

    def detect(self, image: Image) -> FaceDetections:
        small, factor = fit_within(image, self._settings.max_side_px)
        rgb = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        with self._lock:
            rects, scores, _ = self._detector.run(rgb, self._settings.upsample, 0.0)
            boxes, marks = [], []
            for r in rects:
                shape = self._shape(rgb, r)
                boxes.append([r.left(), r.top(), r.right(), r.bottom()])
                marks.append(_five_points(np.array([[p.x, p.y] for p in shape.parts()], np.float32)))
        if not boxes:
            return FaceDetections.empty()
        # HOG scores are SVM margins (about 0 to 3); squash them into (0, 1) like YuNet's.
        score = 1.0 / (1.0 + np.exp(-2.0 * (np.asarray(scores, np.float32) + 0.5)))
        return FaceDetections.from_arrays(boxes, score, marks).scaled(factor)


def _five_points(parts: np.ndarray) -> np.ndarray:
    eye_a, eye_b, nose = parts[0:2].mean(0), parts[2:4].mean(0), parts[4]
    right_eye, left_eye = (eye_a, eye_b) if eye_a[0] < eye_b[0] else (eye_b, eye_a)
    mid = (right_eye + left_eye) / 2
    down = nose - mid
    across = (left_eye - right_eye) / 2
    mouth = nose + 0.6 * down
    return np.stack([right_eye, left_eye, nose, mouth - 0.8 * across, mouth + 0.8 * across])
