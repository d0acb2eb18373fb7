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
from citywatch.media.images import read_image
from citywatch.services.faces import one_face

FAR_TARGETS = (1e-2, 1e-3)
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
    verification: dict[str, Any] = field(default_factory=dict)
    identification: dict[str, Any] = field(default_factory=dict)
    detection: dict[str, Any] = field(default_factory=dict)
    failures_to_acquire: dict[str, str] = field(default_factory=dict)
    # arrays for the plots; not in the JSON
    genuine: np.ndarray = field(default_factory=lambda: np.zeros(0))
    impostor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    open_set: dict[str, metrics.OpenSetScores] = field(default_factory=dict)
    distractor_curve: list[dict[str, float]] = field(default_factory=list)


def run_accuracy(
    data: Path,
    *,
    detector: Detector,
    embedder: Embedder,
    quality: QualitySettings,
    threshold: float,
    distractors: tuple[int, ...] = (),
    progress: Progress = quiet,
    seed: int = 0,
) -> AccuracyReport:
    sets = identity_sets(data)
    pairs = verification_pairs(data, sets)
    templates = Templates(detector, embedder, quality)
    templates.warm([p for pr in pairs for p in (pr.a, pr.b)], progress)
    report = AccuracyReport(embedder.name, detector.name, threshold)
    _verification(report, pairs, templates, threshold)
    for s in sets:
        _identification(report, s, templates, threshold)
    if distractors:
        _distractors(
            report, sets=sets, templates=templates, threshold=threshold, sizes=distractors, seed=seed
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


def _identification(report: AccuracyReport, s: IdentitySet, templates: Templates, threshold: float) -> None:
    split = open_set_split(s)

    def embed(items: list[tuple[str, Path]]) -> tuple[list[str], list[Template]]:
        kept = [(ident, t) for ident, p in items if (t := templates(p)) is not None]
        return [k for k, _ in kept], [t for _, t in kept]

    gid, gal = embed(split.gallery)
    mid, mat = embed(split.mated)
    nid, non = embed(split.nonmated)
    if not gal or not (mat or non):
        return
    scores = metrics.open_set_scores(np.array(gal), gid, np.array(mat + non), mid + nid)
    report.open_set[s.name] = scores
    report.identification[s.name] = {
        "enrolled": len(gal),
        "mated_probes": len(mat),
        "nonmated_probes": len(non),
        "rank1": metrics.rank1_rate(scores),
        "fnir_at_threshold": metrics.fnir(scores, threshold),
        "fpir_at_threshold": metrics.fpir(scores, threshold),
        "fnir_at_fpir": {f"{t:g}": _point(metrics.fnir_at_fpir(scores, t)) for t in FPIR_TARGETS},
    }


def _distractors(
    report: AccuracyReport,
    *,
    sets: list[IdentitySet],
    templates: Templates,
    threshold: float,
    sizes: tuple[int, ...],
    seed: int,
) -> None:
    """Grow the gallery with synthetic templates drawn from a Gaussian fitted to the real
    ones, and watch how often non-mated probes hit something as N grows."""
    real = [t for s in sets for paths in s.images.values() for p in paths if (t := templates(p)) is not None]
    stack = np.array(real)
    rng = np.random.default_rng(seed)
    mean, cov = stack.mean(axis=0), np.cov(stack, rowvar=False)
    probes = [t for s in sets for ident, p in open_set_split(s).nonmated if (t := templates(p)) is not None]
    if not probes:
        return
    probe = np.array(probes, np.float32)
    for n in sizes:
        gallery = rng.multivariate_normal(mean, cov, size=n, method="cholesky").astype(np.float32)
        nearest = np.full(len(probe), np.inf, np.float32)
        for start in range(0, n, 50_000):  # bounded memory for large N
            block = gallery[start : start + 50_000]
            d2 = (probe**2).sum(1)[:, None] - 2 * probe @ block.T + (block**2).sum(1)[None, :]
            nearest = np.minimum(nearest, np.sqrt(np.maximum(d2, 0)).min(axis=1))
        report.distractor_curve.append(
            {
                "gallery": n,
                "nonmated_probes": len(probe),
                "fpir_at_threshold": float((nearest < threshold).mean()),
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
