"""Verification and identification accuracy on the shared labelled data, at the defaults."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from citywatch.config.pipeline import MatchingSettings
from citywatch.config.vision import QualitySettings
from citywatch.domain.matching import GalleryEntry, Template
from citywatch.domain.ports import Detector, Embedder
from citywatch.match.index import WatchlistIndex
from citywatch.vision.photo import one_face

DEFAULTS = MatchingSettings()


@pytest.fixture(scope="module")
def template_of(detector: Detector, embedder: Embedder, quality: QualitySettings):  # type: ignore[no-untyped-def]
    cache: dict[Path, Template] = {}

    def get(path: Path) -> Template:
        if path not in cache:
            cache[path] = one_face(path, detector, embedder, quality, largest=True).template
        return cache[path]

    return get


@pytest.mark.slow
def test_verification_accuracy_on_deepface_pairs(shared_data: Path, template_of) -> None:  # type: ignore[no-untyped-def]
    root = shared_data / "deepface"
    rows = list(csv.DictReader((root / "pairs_all.csv").open()))
    correct = 0
    for r in rows:
        d = float(np.linalg.norm(template_of(root / r["file_x"]) - template_of(root / r["file_y"])))
        correct += (d < DEFAULTS.verify_threshold) == (r["same_person"] == "1")
    assert len(rows) == 520
    assert correct / len(rows) >= 0.99


def identities(folder: Path, pattern: str) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = defaultdict(list)
    for p in sorted(folder.glob(pattern)):
        out[p.parent.name].append(p)
    return dict(out)


def index_of(gallery: dict[str, Template]) -> WatchlistIndex:
    entries = [
        GalleryEntry(i, i, name, 1, "test", DEFAULTS.threshold, DEFAULTS.margin, vec)
        for i, (name, vec) in enumerate(gallery.items())
    ]
    return WatchlistIndex(entries, dim=128)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("folder", "pattern"),
    [("face-api.js/examples/images", "*/*.png"), ("dlib/examples/johns", "*/*.jpg")],
)
def test_identification_rank1_and_unknowns(shared_data: Path, template_of, folder: str, pattern: str) -> None:  # type: ignore[no-untyped-def]
    people = identities(shared_data / folder, pattern)
    assert len(people) >= 5
    gallery = {name: template_of(paths[0]) for name, paths in people.items()}
    probes = [(name, p) for name, paths in people.items() for p in paths[1:]]

    index = index_of(gallery)
    results = [(name, index.match(template_of(p))) for name, p in probes]
    rank1 = sum(r.best is not None and r.best.person_name == name for name, r in results)
    assert rank1 / len(probes) >= 0.98
    # Open set: identified at the default threshold and margin, not only nearest.
    identified = sum(r.is_match and r.best is not None and r.best.person_name == name for name, r in results)
    assert identified / len(probes) >= 0.95

    # Leave one person out of the gallery: their photos must come back unknown.
    unknown = total = 0
    for absent in people:
        partial = index_of({n: v for n, v in gallery.items() if n != absent})
        for name, p in probes:
            if name == absent:
                total += 1
                unknown += not partial.match(template_of(p)).is_match
    assert unknown / total >= 0.95
