"""The faces of the simulated city, from the shared photos: who is enrolled (one reference
photo each) and the probe set the virtual cameras hand to the workers (the enrolled people's
other photos, and strangers: people never enrolled), each face embedded once by the real
detector and embedder.

The split is the accuracy benchmark's open set (`bench.datasets.open_set_split`): in each
identity set, every third identity is never enrolled; the first photo of each other one is
its reference."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from citywatch.bench.datasets import identity_sets, open_set_split
from citywatch.bench.progress import Progress, quiet
from citywatch.config.vision import QualitySettings
from citywatch.domain.errors import InvalidInput
from citywatch.domain.ports import Detector, Embedder
from citywatch.pipeline.virtual import ProbeSet
from citywatch.vision.photo import PhotoFace, one_face

SETS = ("deepface", "face-api.js")
"""The identity sets of photos of people (dlib's `johns`, small low-quality crops of five lookalike
identities, would make the city's strangers mostly false matches)."""
CROP = 96
"""Side of the square face crop a probe carries (the sighting's picture)."""


@dataclass(frozen=True, slots=True)
class Enrollee:
    name: str
    photo: Path


@dataclass(frozen=True, slots=True)
class Faces:
    enrollees: list[Enrollee]
    probes: ProbeSet
    failed: int
    """Photos in which no face was found (left out)."""


def city_faces(data: Path, detector: Detector, embedder: Embedder, progress: Progress = quiet) -> Faces:
    """Who the simulated city enrols, and its probe set."""
    enrollees: list[Enrollee] = []
    photos: list[tuple[str, Path, bool]] = []
    for s in identity_sets(data):
        if s.name not in SETS:
            continue
        split = open_set_split(s)
        enrollees += [Enrollee(f"{s.name} {ident}", p) for ident, p in split.gallery]
        photos += [(f"{s.name} {ident}", p, True) for ident, p in split.mated]
        photos += [(f"{s.name} {ident}", p, False) for ident, p in split.nonmated]
    quality = QualitySettings()
    templates, crops, enrolled, names = [], [], [], []
    failed = 0
    for i, (name, path, mated) in enumerate(photos, start=1):
        progress("embedding the probe faces", i, len(photos))
        try:
            face = one_face(path, detector, embedder, quality, largest=True)
        except InvalidInput:
            failed += 1
            continue
        templates.append(face.template)
        crops.append(_crop(face))
        enrolled.append(mated)
        names.append(name)
    probes = ProbeSet(
        embedder.name,
        np.stack(templates).astype(np.float32),
        np.stack(crops),
        np.array(enrolled, np.bool_),
        tuple(names),
    )
    return Faces(enrollees, probes, failed)


def _crop(face: PhotoFace) -> np.ndarray:
    """The face with a margin, as a CROP x CROP picture."""
    x1, y1, x2, y2 = (float(v) for v in face.face.xyxy[0])
    pad = 0.25 * max(x2 - x1, y2 - y1)
    h, w = face.image.shape[:2]
    top, bottom = max(0, int(y1 - pad)), min(h, int(y2 + pad))
    left, right = max(0, int(x1 - pad)), min(w, int(x2 + pad))
    patch = face.image[top:bottom, left:right]
    return np.asarray(cv2.resize(patch, (CROP, CROP), interpolation=cv2.INTER_AREA), np.uint8)
