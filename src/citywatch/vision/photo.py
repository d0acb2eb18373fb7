"""The single face of a photo: detect, require exactly one, embed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citywatch.config.vision import QualitySettings
from citywatch.domain.errors import NoFace, SeveralFaces
from citywatch.domain.faces import FaceDetections
from citywatch.domain.frames import Image
from citywatch.domain.matching import Template
from citywatch.domain.ports import Detector, Embedder
from citywatch.media.images import read_image


@dataclass(frozen=True, slots=True)
class PhotoFace:
    path: Path
    image: Image
    face: FaceDetections
    template: Template
    other_faces: int
    """Further faces in the photo that were set aside (only when the largest was taken)."""


def one_face(
    path: Path,
    detector: Detector,
    embedder: Embedder,
    quality: QualitySettings,
    *,
    largest: bool = False,
) -> PhotoFace:
    """Read a photo and embed its one face; `NoFace` when there is none.

    With several faces: `SeveralFaces` (enrolment must be unambiguous), or with
    `largest` the biggest face is taken and the others counted (verification and
    search, where a probe photo may have bystanders). Faces below the detector-score
    floor are not counted; nothing else of the quality gate applies to a chosen photo.
    """
    image = read_image(path)
    faces = detector.detect(image)
    faces = faces[faces.score >= quality.min_score]
    if len(faces) == 0:
        raise NoFace(f"{path}: no face found")
    others = len(faces) - 1
    if others and not largest:
        raise SeveralFaces(
            f"{path}: {len(faces)} faces found; give a photo of exactly one person (crop it if needed)"
        )
    face = faces[int(np.argmax(faces.width * faces.height))]
    return PhotoFace(path, image, face, embedder.embed(image, face)[0], others)
