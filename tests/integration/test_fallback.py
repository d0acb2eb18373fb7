"""Without the YuNet file, detection falls back to dlib HOG and says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from citywatch.config.vision import YuNetSettings
from citywatch.media.images import read_image
from citywatch.vision.backends.hog import HogDetector
from citywatch.vision.factory import build_detector


def test_hog_fallback_is_logged_and_finds_faces(
    tmp_path: Path, shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        detector = build_detector(YuNetSettings(), tmp_path / "no-models")
    assert isinstance(detector, HogDetector)
    assert "falling back to dlib HOG" in caplog.text
    assert "citywatch models fetch" in caplog.text
    faces = detector.detect(read_image(shared_data / "face_recognition/examples/obama.jpg"))
    assert len(faces) == 1
    assert faces.landmarks.shape == (1, 5, 2)
    assert 0 < faces.score[0] < 1
