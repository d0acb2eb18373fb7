"""Locating and loading dlib's model files from the `face-recognition-models` package."""

from __future__ import annotations

import importlib.util
import threading
from functools import cache
from pathlib import Path
from typing import Any

import dlib

from citywatch.domain.errors import Unavailable

_LOAD_LOCK = threading.Lock()


def _model_file(name: str) -> Path:
    # Found by location, not imported: the package's __init__ needs pkg_resources,
    # which current setuptools no longer ships.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise Unavailable("the face-recognition-models package is not installed")
    path = Path(spec.origin).parent / "models" / name
    if not path.is_file():
        raise Unavailable(f"dlib model file missing: {path}")
    return path


@cache
def shape_predictor_5() -> Any:
    """dlib's 5-point landmark model (never the 68-point one: its licence forbids commercial use)."""
    with _LOAD_LOCK:
        return dlib.shape_predictor(str(_model_file("shape_predictor_5_face_landmarks.dat")))


@cache
def resnet_descriptor() -> Any:
    with _LOAD_LOCK:
        return dlib.face_recognition_model_v1(str(_model_file("dlib_face_recognition_resnet_model_v1.dat")))
