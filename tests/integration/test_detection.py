"""YuNet finds every boxed face of dlib's example photos and nothing on the dogs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from citywatch.config.vision import YuNetSettings
from citywatch.domain.faces import iou_matrix
from citywatch.domain.ports import Detector
from citywatch.media.images import read_image
from citywatch.vision.backends.yunet import YuNetDetector


def boxed_faces(xml_path: Path) -> list[tuple[Path, np.ndarray]]:
    out = []
    for image in ET.parse(xml_path).getroot().iter("image"):
        boxes = [
            [
                int(b.get("left", 0)),
                int(b.get("top", 0)),
                int(b.get("left", 0)) + int(b.get("width", 0)),
                int(b.get("top", 0)) + int(b.get("height", 0)),
            ]
            for b in image.iter("box")
        ]
        out.append((xml_path.parent / image.get("file", ""), np.array(boxes, np.float32)))
    return out


def test_all_43_boxed_faces_found(shared_data: Path, detector: Detector) -> None:
    assert isinstance(detector, YuNetDetector)
    faces_dir = shared_data / "dlib/examples/faces"
    found = total = extra = 0
    for name in ("training.xml", "testing.xml"):
        for path, truth in boxed_faces(faces_dir / name):
            detected = detector.detect(read_image(path))
            iou = iou_matrix(truth, detected.xyxy)
            hit = iou.max(axis=1) >= 0.4 if len(detected) else np.zeros(len(truth), bool)
            found += int(hit.sum())
            total += len(truth)
            extra += int((iou.max(axis=0) < 0.4).sum()) if len(truth) else len(detected)
    assert total == 43
    assert found == 43
    assert extra <= 2, f"{extra} detections match no labelled face"


def test_no_face_on_the_dogs(shared_data: Path, detector: Detector) -> None:
    assert len(detector.detect(read_image(shared_data / "dlib/examples/faces/dogs.jpg"))) == 0


def test_blank_image_has_no_face(shared_data: Path, detector: Detector) -> None:
    assert len(detector.detect(read_image(shared_data / "face-api.js/test/images/white.png"))) == 0


@pytest.mark.parametrize("name", ["obama-240p.jpg", "obama-1080p.jpg"])
def test_small_and_large_images(shared_data: Path, detector: Detector, name: str) -> None:
    faces = detector.detect(read_image(shared_data / "face_recognition/examples" / name))
    assert len(faces) == 1


def test_tight_crop_is_found_thanks_to_padding(shared_data: Path) -> None:
    crop = read_image(shared_data / "dlib/examples/johns/John_Salley/000179_02159509.jpg")
    padded = YuNetDetector(YuNetSettings(), shared_data / "models/face_detection_yunet_2023mar.onnx")
    assert len(padded.detect(crop)) == 1
