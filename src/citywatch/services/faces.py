"""The single face of a photo: detect, require exactly one, embed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from citywatch.config.vision import QualitySettings
from citywatch.domain.errors import NoFace, SeveralFaces
from citywatch.domain.faces import FaceDetections
from citywatch.domain.frames import Image
from citywatch.domain.matching import Template
from citywatch.domain.ports import Detector, Embedder
from citywatch.vision.images import read_image


@dataclass(frozen=True, slots=True)
class PhotoFace:
    path: Path
    image: Image
    face: FaceDetections
    template: Template


def one_face(path: Path, detector: Detector, embedder: Embedder, quality: QualitySettings) -> PhotoFace:
    """Read a photo and embed its one face; `NoFace` / `SeveralFaces` otherwise.

    Faces below the detector-score floor are not counted; nothing else of the quality
    gate applies to a photo chosen by a person.
    """
    image = read_image(path)
    faces = detector.detect(image)
    faces = faces[faces.score >= quality.min_score]
    if len(faces) == 0:
        raise NoFace(f"{path}: no face found")
    if len(faces) > 1:
        raise SeveralFaces(
            f"{path}: {len(faces)} faces found; give a photo of exactly one person (crop it if needed)"
        )
    return PhotoFace(path, image, faces, embedder.embed(image, faces)[0])
