"""1:1 verification of two photos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citywatch.config.vision import QualitySettings
from citywatch.domain.ports import Detector, Embedder
from citywatch.vision.photo import one_face


@dataclass(frozen=True, slots=True)
class Verdict:
    image_a: str
    image_b: str
    distance: float
    threshold: float
    same_person: bool
    model: str
    faces_set_aside: int
    """Other, smaller faces in the two photos that were not compared."""


def verify(
    a: Path, b: Path, *, detector: Detector, embedder: Embedder, quality: QualitySettings, threshold: float
) -> Verdict:
    fa = one_face(a, detector, embedder, quality, largest=True)
    fb = one_face(b, detector, embedder, quality, largest=True)
    distance = float(np.linalg.norm(fa.template - fb.template))
    return Verdict(
        str(a),
        str(b),
        distance,
        threshold,
        distance < threshold,
        embedder.name,
        fa.other_faces + fb.other_faces,
    )
