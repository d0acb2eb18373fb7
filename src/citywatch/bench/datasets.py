"""The labelled shared data as comparisons: verification pairs, open-set identification
splits and boxed faces. Reads labels only; no models."""

from __future__ import annotations

import csv
import hashlib
import itertools
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from citywatch.domain.errors import InvalidInput

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True, slots=True)
class Pair:
    a: Path
    b: Path
    same: bool
    source: str


@dataclass(frozen=True, slots=True)
class IdentitySet:
    """Images by identity, one image per file content (duplicates removed by SHA-256)."""

    name: str
    images: dict[str, list[Path]]


@dataclass(frozen=True, slots=True)
class BoxedImage:
    path: Path
    boxes: list[list[float]]


def _require(path: Path) -> Path:
    if not path.exists():
        raise InvalidInput(f"{path}: not found (is the shared data folder right?)")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dedupe(images: dict[str, list[Path]]) -> dict[str, list[Path]]:
    seen: set[str] = set()
    out: dict[str, list[Path]] = {}
    for identity in sorted(images):
        kept = []
        for p in sorted(images[identity]):
            digest = _sha(p)
            if digest not in seen:
                seen.add(digest)
                kept.append(p)
        if kept:
            out[identity] = kept
    return out


def identity_sets(data: Path) -> list[IdentitySet]:
    """face-api.js and johns (folder = identity), face_recognition (labels.csv, one-person
    images only) and deepface (labels.csv)."""
    sets = []
    for name, folder in (("face-api.js", "face-api.js/examples/images"), ("johns", "dlib/examples/johns")):
        by_id: dict[str, list[Path]] = defaultdict(list)
        for p in sorted(_require(data / folder).glob("*/*")):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                by_id[p.parent.name].append(p)
        sets.append(IdentitySet(name, _dedupe(by_id)))
    for name, column in (("face_recognition", "identities"), ("deepface", "identity")):
        by_id = defaultdict(list)
        root = _require(data / name)
        with (root / "labels.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                ident = row[column]
                path = root / row["file"]
                if ";" in ident or path.suffix.lower() not in IMAGE_SUFFIXES:
                    continue  # several people in one image, or a video
                by_id[ident].append(path)
        sets.append(IdentitySet(name, _dedupe(by_id)))
    return sets


def verification_pairs(data: Path, sets: list[IdentitySet]) -> list[Pair]:
    """deepface's listed pairs, plus every pair inside each other set (same set only)."""
    pairs = []
    root = _require(data / "deepface")
    with (root / "pairs_all.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            pairs.append(
                Pair(root / row["file_x"], root / row["file_y"], row["same_person"] == "1", "deepface")
            )
    for s in sets:
        if s.name == "deepface":
            continue
        labelled = [(p, ident) for ident, paths in s.images.items() for p in paths]
        for (pa, ia), (pb, ib) in itertools.combinations(labelled, 2):
            pairs.append(Pair(pa, pb, ia == ib, s.name))
    return pairs


@dataclass(frozen=True, slots=True)
class OpenSetSplit:
    name: str
    gallery: list[tuple[str, Path]]
    mated: list[tuple[str, Path]]
    nonmated: list[tuple[str, Path]]


def open_set_split(s: IdentitySet, held_out_every: int = 3) -> OpenSetSplit:
    """First image of each enrolled identity in the gallery, its other images mated probes;
    every `held_out_every`-th identity (sorted by name) is not enrolled, and all its images
    are non-mated probes."""
    gallery, mated, nonmated = [], [], []
    for i, ident in enumerate(sorted(s.images)):
        paths = s.images[ident]
        if i % held_out_every == held_out_every - 1:
            nonmated += [(ident, p) for p in paths]
        elif len(paths) >= 1:
            gallery.append((ident, paths[0]))
            mated += [(ident, p) for p in paths[1:]]
    return OpenSetSplit(s.name, gallery, mated, nonmated)


def boxed_faces(data: Path) -> list[BoxedImage]:
    """dlib's PASCAL VOC style face boxes (training.xml and testing.xml), as xyxy."""
    out = []
    folder = _require(data / "dlib/examples/faces")
    for name in ("training.xml", "testing.xml"):
        for image in ET.parse(folder / name).getroot().iter("image"):  # noqa: S314 (labels we ship with, not user input)
            boxes = []
            for b in image.iter("box"):
                left, top = float(b.get("left", 0)), float(b.get("top", 0))
                boxes.append([left, top, left + float(b.get("width", 0)), top + float(b.get("height", 0))])
            out.append(BoxedImage(folder / image.get("file", ""), boxes))
    return out
