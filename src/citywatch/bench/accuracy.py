"""`citywatch bench accuracy`: verification, open-set identification and detection error
rates of the configured pipeline on a labelled folder."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citywatch.bench import metrics
from citywatch.bench.datasets import (
    IdentitySet,
    Pair,
    boxed_faces,
    identity_sets,
    open_set_split,
    verification_pairs,
)
from citywatch.bench.progress import Progress, quiet
from citywatch.config.vision import QualitySettings
from citywatch.domain.errors import InvalidInput
from citywatch.domain.matching import Template
from citywatch.domain.ports import Detector, Embedder
from citywatch.match.index import PersonRef, WatchlistIndex
from citywatch.media.images import read_image
from citywatch.vision.photo import one_face

FAR_TARGETS = (1e-2, 1e-3)
SWEEP = (0.45, 0.5, 0.55, 0.6, 0.65)
"""Thresholds the calibration table shows (docs/calibration.md explains the choice)."""
FPIR_TARGETS = (0.01, 0.003)


class Templates:
    """Each image's template, computed once per file content; failures to acquire counted."""

    def __init__(self, detector: Detector, embedder: Embedder, quality: QualitySettings) -> None:
        self._detector, self._embedder, self._quality = detector, embedder, quality
        self._by_sha: dict[str, Template | None] = {}
        self.failed: dict[str, str] = {}

    def __call__(self, path: Path) -> Template | None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in self._by_sha:
            try:
                face = one_face(path, self._detector, self._embedder, self._quality, largest=True)
                self._by_sha[digest] = face.template
            except InvalidInput as exc:
                self._by_sha[digest] = None
                self.failed[str(path)] = str(exc)
        return self._by_sha[digest]

    def warm(self, paths: Iterable[Path], progress: Progress) -> None:
        unique = sorted(set(paths))
        for i, p in enumerate(unique, start=1):
            self(p)
            progress("templates", i, len(unique))


@dataclass
class AccuracyReport:
    model: str
    detector: str
    threshold: float
    """The verification threshold."""
    match_threshold: float
    match_margin: float
    verification: dict[str, Any] = field(default_factory=dict)
    identification: dict[str, Any] = field(default_factory=dict)
    detection: dict[str, Any] = field(default_factory=dict)
    failures_to_acquire: dict[str, str] = field(default_factory=dict)
    # arrays for the plots; not in the JSON
    genuine: np.ndarray = field(default_factory=lambda: np.zeros(0))
    impostor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    open_set: dict[str, metrics.OpenSetScores] = field(default_factory=dict)
    distractor_curve: list[dict[str, float]] = field(default_factory=list)
    sweep: list[dict[str, Any]] = field(default_factory=list)


def run_accuracy(
    data: Path,
    *,
    detector: Detector,
    embedder: Embedder,
    quality: QualitySettings,
    verify_threshold: float,
    threshold: float,
    margin: float,
    distractors: tuple[int, ...] = (),
    progress: Progress = quiet,
    seed: int = 0,
) -> AccuracyReport:
    """Verification at `verify_threshold`; identification through the watchlist index with
    its `threshold` and `margin`, as live matching decides."""
    sets = identity_sets(data)
    pairs = verification_pairs(data, sets)
    templates = Templates(detector, embedder, quality)
    templates.warm([p for pr in pairs for p in (pr.a, pr.b)], progress)
    report = AccuracyReport(embedder.name, detector.name, verify_threshold, threshold, margin)
    _verification(report, pairs, templates, verify_threshold)
    splits = {s.name: _embedded_split(s, templates) for s in sets}
    for name, split in splits.items():
        _identification(report, name, split, threshold, margin)
    report.sweep = _sweep(report, list(splits.items()), margin)
    if distractors:
        _distractors(
            report, list(splits.values()), threshold=threshold, margin=margin, sizes=distractors, seed=seed
        )
    _detection(report, data, detector, progress)
    report.failures_to_acquire = dict(templates.failed)
    return report


def _verification(report: AccuracyReport, pairs: list[Pair], templates: Templates, threshold: float) -> None:
    genuine: list[float] = []
    impostor: list[float] = []
    skipped = 0
    for pr in pairs:
        a, b = templates(pr.a), templates(pr.b)
        if a is None or b is None:
            skipped += 1
            continue
        (genuine if pr.same else impostor).append(float(np.linalg.norm(a - b)))
    g, i = np.array(genuine), np.array(impostor)
    e = metrics.eer(g, i)
    report.genuine, report.impostor = g, i
    report.verification = {
        "pairs": len(g) + len(i),
        "genuine": len(g),
        "impostor": len(i),
        "skipped_pairs_no_face": skipped,
        "failure_to_acquire_rate": skipped / max(len(pairs), 1),
        "eer": e.rate,
        "eer_threshold": e.threshold,
        "accuracy_at_threshold": float(
            ((g < threshold).sum() + (i >= threshold).sum()) / max(len(g) + len(i), 1)
        ),
        "far_at_threshold": metrics.far(i, threshold),
        "frr_at_threshold": metrics.frr(g, threshold),
        "tar_at_far": {f"{t:g}": _point(metrics.tar_at_far(g, i, t)) for t in FAR_TARGETS},
        "genuine_distance": _summary(g),
        "impostor_distance": _summary(i),
    }


@dataclass
class EmbeddedSplit:
    """An open-set split with templates: the first image of each enrolled identity that
    yields a face is enrolled; identities with none are failures to enrol."""

    gallery: list[tuple[str, Template]]
    mated: list[tuple[str, Template]]
    nonmated: list[tuple[str, Template]]
    failures_to_enrol: int


def _embedded_split(s: IdentitySet, templates: Templates) -> EmbeddedSplit:
    split = open_set_split(s)
    candidates: dict[str, list[Template]] = {}
    for ident, path in split.gallery + split.mated:
        t = templates(path)
        if t is not None:
            candidates.setdefault(ident, []).append(t)
    enrolled_ids = {ident for ident, _ in split.gallery}
    gallery = [(ident, ts[0]) for ident, ts in candidates.items()]
    mated = [(ident, t) for ident, ts in candidates.items() for t in ts[1:]]
    nonmated = [(ident, t) for ident, p in split.nonmated if (t := templates(p)) is not None]
    return EmbeddedSplit(gallery, mated, nonmated, len(enrolled_ids - set(candidates)))


def _index(
    gallery: list[tuple[str, Template]], threshold: float, margin: float
) -> tuple[WatchlistIndex, list[str]]:
    names = [ident for ident, _ in gallery]
    persons = {i: PersonRef(i, name, 1, "bench") for i, name in enumerate(names)}
    vectors = np.array([t for _, t in gallery], np.float32)
    index = WatchlistIndex.from_arrays(
        vectors, np.arange(len(names), dtype=np.int64), persons, {1: (threshold, margin)}
    )
    return index, names


def _operating_point(index: WatchlistIndex, split: EmbeddedSplit) -> tuple[float, float]:
    """(FNIR, FPIR) of the real decision rule: threshold and margin over the runner-up."""
    hits = sum(
        r.is_match and r.best is not None and r.best.person_name == ident
        for ident, t in split.mated
        for r in [index.match(t)]
    )
    alarms = sum(index.match(t).is_match for _, t in split.nonmated)
    fnir = 1.0 - hits / len(split.mated) if split.mated else 0.0
    fpir = alarms / len(split.nonmated) if split.nonmated else 0.0
    return fnir, fpir


def _identification(
    report: AccuracyReport, name: str, split: EmbeddedSplit, threshold: float, margin: float
) -> None:
    if not split.gallery or not (split.mated or split.nonmated):
        return
    probes = split.mated + split.nonmated
    scores = metrics.open_set_scores(
        np.array([t for _, t in split.gallery]),
        [ident for ident, _ in split.gallery],
        np.array([t for _, t in probes]),
        [ident for ident, _ in probes],
    )
    index, _ = _index(split.gallery, threshold, margin)
    fnir, fpir = _operating_point(index, split)
    report.open_set[name] = scores
    report.identification[name] = {
        "enrolled": len(split.gallery),
        "failures_to_enrol": split.failures_to_enrol,
        "mated_probes": len(scores.mated_distance),
        "nonmated_probes": len(scores.nonmated_distance),
        "rank1": metrics.rank1_rate(scores),
        "fnir_at_operating_point": fnir,
        "fpir_at_operating_point": fpir,
        "fnir_at_fpir": {f"{t:g}": _point(metrics.fnir_at_fpir(scores, t)) for t in FPIR_TARGETS},
    }


def _sweep(
    report: AccuracyReport, splits: list[tuple[str, EmbeddedSplit]], margin: float
) -> list[dict[str, Any]]:
    """Verification and identification at each threshold of SWEEP, margin fixed: the
    table the default threshold is chosen from."""
    g, i = report.genuine, report.impostor
    rows = []
    for t in SWEEP:
        row: dict[str, Any] = {
            "threshold": t,
            "accuracy": float(((g < t).sum() + (i >= t).sum()) / max(len(g) + len(i), 1)),
            "far": metrics.far(i, t),
            "frr": metrics.frr(g, t),
        }
        for name, split in splits:
            if split.gallery and (split.mated or split.nonmated):
                fnir, fpir = _operating_point(_index(split.gallery, t, margin)[0], split)
                row[name] = {"fnir": fnir, "fpir": fpir}
        rows.append(row)
    return rows


def _distractors(
    report: AccuracyReport,
    splits: list[EmbeddedSplit],
    *,
    threshold: float,
    margin: float,
    sizes: tuple[int, ...],
    seed: int,
) -> None:
    """Grow the real gallery (all sets together) with N synthetic templates drawn from a
    Gaussian fitted to the enrolled templates only, and measure FNIR and FPIR of the real
    decision rule as N grows."""
    gallery = [(f"{k}/{ident}", t) for k, sp in enumerate(splits) for ident, t in sp.gallery]
    merged = EmbeddedSplit(
        gallery=gallery,
        mated=[(f"{k}/{ident}", t) for k, sp in enumerate(splits) for ident, t in sp.mated],
        nonmated=[(f"{k}/{ident}", t) for k, sp in enumerate(splits) for ident, t in sp.nonmated],
        failures_to_enrol=0,
    )
    real = np.array([t for _, t in gallery], np.float64)
    mean, cov = real.mean(axis=0), np.cov(real, rowvar=False)
    rng = np.random.default_rng(seed)
    for n in sizes:
        synthetic = rng.multivariate_normal(mean, cov, size=n, method="eigh").astype(np.float32)
        grown = gallery + [(f"distractor-{i}", v) for i, v in enumerate(synthetic)]
        index, _ = _index(grown, threshold, margin)
        fnir, fpir = _operating_point(index, merged)
        report.distractor_curve.append(
            {
                "gallery": len(grown),
                "distractors": n,
                "fnir_at_operating_point": fnir,
                "fpir_at_operating_point": fpir,
            }
        )


def _detection(report: AccuracyReport, data: Path, detector: Detector, progress: Progress) -> None:
    images = boxed_faces(data)
    tp = fp = fn = 0
    for i, item in enumerate(images, start=1):
        found = detector.detect(read_image(item.path))
        score = metrics.match_boxes(item.boxes, found.xyxy, iou_min=0.5)
        tp, fp, fn = tp + score.true_positives, fp + score.false_positives, fn + score.false_negatives
        progress("detection", i, len(images))
    total = metrics.DetectionScore(tp, fp, fn)
    report.detection = {
        "images": len(images),
        "faces": tp + fn,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": total.precision,
        "recall": total.recall,
        "iou": 0.5,
    }


def _point(p: metrics.OperatingPoint) -> dict[str, Any]:
    return {"threshold": p.threshold, "achieved": p.achieved, "rate": p.rate, "resolvable": p.resolvable}


def _summary(values: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {}
    return {
        "mean": float(values.mean()),
        "min": float(values.min()),
        "max": float(values.max()),
        "p05": float(np.percentile(values, 5)),
        "p95": float(np.percentile(values, 95)),
    }
