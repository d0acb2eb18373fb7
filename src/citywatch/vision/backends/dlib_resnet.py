"""dlib's 128-D ResNet face descriptor after 5-point alignment."""

from __future__ import annotations

import threading

import cv2
import dlib
import numpy as np

from citywatch.config.vision import DlibResNetSettings
from citywatch.domain.faces import FaceDetections, FloatArray
from citywatch.domain.frames import Image
from citywatch.vision.backends.dlib_models import resnet_descriptor, shape_predictor_5

CHIP_SIZE = 150
CHIP_PADDING = 0.25


class DlibResNetEmbedder:
    """Aligns each face with dlib's 5-point predictor (inside the detector's box), cuts a
    150x150 chip and runs the ResNet; templates compared by Euclidean distance."""

    name = "dlib-resnet-v1"
    dim = 128
    default_threshold = 0.6  # dlib's published operating point; see docs/calibration.md

    def __init__(self, settings: DlibResNetSettings) -> None:
        self._jitters = settings.jitters
        self._shape = shape_predictor_5()
        self._net = resnet_descriptor()
        self._lock = threading.Lock()

    def embed(self, image: Image, faces: FaceDetections) -> FloatArray:
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        rgb: Image = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        chips = [self._chip(rgb, box) for box in faces.xyxy]
        with self._lock:
            if self._jitters:
                vectors = [self._net.compute_face_descriptor(c, self._jitters) for c in chips]
            else:
                vectors = list(self._net.compute_face_descriptor(chips))
        return np.asarray([np.asarray(v) for v in vectors], np.float32).reshape(len(faces), self.dim)

    def _chip(self, rgb: Image, box: FloatArray) -> Image:
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        shape = self._shape(rgb, dlib.rectangle(x1, y1, x2, y2))
        return np.asarray(dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING), np.uint8)
