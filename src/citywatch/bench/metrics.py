"""Error-rate arithmetic on distances, pure NumPy. Smaller distance = more alike; a
comparison is a match when its distance is below the threshold.

Verification follows ISO/IEC 19795-1 terms (FMR/FNMR, here FAR/FRR as the field says
them), open-set identification follows NIST FRTE 1:N (FNIR at FPIR).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from citywatch.domain.faces import iou_matrix

Floats = npt.NDArray[np.float64]


def _arr(values: npt.ArrayLike) -> Floats:
    return np.asarray(values, np.float64).reshape(-1)


def far(impostor: npt.ArrayLike, threshold: float) -> float:
    """False accept rate: impostor comparisons nearer than the threshold."""
    i = _arr(impostor)
    return float((i < threshold).mean()) if len(i) else 0.0


def frr(genuine: npt.ArrayLike, threshold: float) -> float:
    """False reject rate: genuine comparisons not nearer than the threshold."""
    g = _arr(genuine)
    return float((g >= threshold).mean()) if len(g) else 0.0


@dataclass(frozen=True, slots=True)
class Curve:
    """FAR and FRR at every threshold that changes either (ascending thresholds)."""

    thresholds: Floats
    far: Floats
    frr: Floats

    @property
    def tar(self) -> Floats:
        return 1.0 - self.frr


def error_curve(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> Curve:
    """ROC/DET points: thresholds just above each observed distance, plus 0."""
    g, i = _arr(genuine), _arr(impostor)
    observed = np.unique(np.concatenate([g, i]))
    thresholds = np.concatenate([[0.0], np.nextafter(observed, np.inf)])
    g_sorted, i_sorted = np.sort(g), np.sort(i)
    # count of values < t, for every t at once
    accepted_g = np.searchsorted(g_sorted, thresholds, side="left")
    accepted_i = np.searchsorted(i_sorted, thresholds, side="left")
    far_ = accepted_i / max(len(i), 1)
    frr_ = 1.0 - accepted_g / max(len(g), 1)
    return Curve(thresholds, far_.astype(np.float64), frr_.astype(np.float64))


@dataclass(frozen=True, slots=True)
class Eer:
    rate: float
    threshold: float


def eer(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> Eer:
    """Equal error rate: where FAR and FRR cross, linearly interpolated between the two
    neighbouring thresholds."""
    c = error_curve(genuine, impostor)
    diff = c.far - c.frr  # rises from -1 (t=0) to +1
    k = int(np.argmax(diff >= 0))
    if k == 0:
        return Eer(float(c.far[0]), float(c.thresholds[0]))
    d0, d1 = diff[k - 1], diff[k]
    w = 0.0 if d1 == d0 else float(-d0 / (d1 - d0))
    rate = (1 - w) * (c.far[k - 1] + c.frr[k - 1]) / 2 + w * (c.far[k] + c.frr[k]) / 2
    threshold = (1 - w) * c.thresholds[k - 1] + w * c.thresholds[k]
    return Eer(float(rate), float(threshold))


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """The best threshold whose error on the 'false' side stays within a target rate."""

    target: float
    threshold: float
    achieved: float
    """The false accept (or false positive identification) rate actually reached."""
    rate: float
    """TAR for verification, FNIR for identification."""
    resolvable: bool
    """False when the target is below 1 / number of negatives: the data cannot show it."""


def tar_at_far(genuine: npt.ArrayLike, impostor: npt.ArrayLike, target: float) -> OperatingPoint:
    c = error_curve(genuine, impostor)
    ok = np.nonzero(c.far <= target)[0]
    k = int(ok[-1])  # thresholds ascend and FAR never falls: the last one allowed accepts most
    n = len(_arr(impostor))
    return OperatingPoint(target, float(c.thresholds[k]), float(c.far[k]), float(c.tar[k]), n * target >= 1)


@dataclass(frozen=True, slots=True)
class OpenSetScores:
    """Per mated probe: the distance to its own identity's nearest template and whether that
    identity ranked first; per non-mated probe: the distance to the nearest template."""

    mated_distance: Floats
    mated_rank1: npt.NDArray[np.bool_]
    nonmated_distance: Floats


def open_set_scores(
    gallery: npt.ArrayLike,
    gallery_ids: npt.ArrayLike,
    probes: npt.ArrayLike,
    probe_ids: npt.ArrayLike,
) -> OpenSetScores:
    """Exact search of each probe against the gallery; a probe whose id is in the gallery
    is mated, any other is non-mated."""
    g = np.asarray(gallery, np.float64)
    p = np.asarray(probes, np.float64)
    gid = np.asarray(gallery_ids)
    pid = np.asarray(probe_ids)
    dist = np.sqrt(np.maximum(((p[:, None, :] - g[None, :, :]) ** 2).sum(-1), 0))
    mated = np.isin(pid, gid)
    nearest = dist.argmin(axis=1)
    own = np.where(gid[None, :] == pid[:, None], dist, np.inf).min(axis=1)
    return OpenSetScores(
        mated_distance=own[mated],
        mated_rank1=(gid[nearest] == pid)[mated],
        nonmated_distance=dist.min(axis=1)[~mated],
    )


def fpir(scores: OpenSetScores, threshold: float) -> float:
    """False positive identification rate: non-mated probes that return anyone."""
    return far(scores.nonmated_distance, threshold)


def fnir(scores: OpenSetScores, threshold: float) -> float:
    """False negative identification rate: mated probes not returned as their own identity
    at rank 1 within the threshold."""
    hit = scores.mated_rank1 & (scores.mated_distance < threshold)
    return float(1.0 - hit.mean()) if len(hit) else 0.0


def fnir_at_fpir(scores: OpenSetScores, target: float) -> OperatingPoint:
    # Between two non-mated distances FPIR is flat and FNIR can only fall as t grows, so
    # the best threshold is a non-mated distance itself (accepting only those below it).
    nonmated = np.unique(scores.nonmated_distance)
    everything = np.nextafter(max(nonmated.max(initial=0.0), scores.mated_distance.max(initial=0.0)), np.inf)
    candidates = np.concatenate([[0.0], nonmated, [everything]])
    t = float(max(c for c in candidates if fpir(scores, float(c)) <= target))
    n = len(scores.nonmated_distance)
    return OperatingPoint(target, t, fpir(scores, t), fnir(scores, t), n * target >= 1)


def rank1_rate(scores: OpenSetScores) -> float:
    return float(scores.mated_rank1.mean()) if len(scores.mated_rank1) else 0.0


@dataclass(frozen=True, slots=True)
class DetectionScore:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        truth = self.true_positives + self.false_negatives
        return self.true_positives / truth if truth else 1.0


def match_boxes(truth: npt.ArrayLike, found: npt.ArrayLike, iou_min: float = 0.5) -> DetectionScore:
    """Greedy one-to-one matching of xyxy boxes by IoU, highest first."""
    t = np.asarray(truth, np.float64).reshape(-1, 4)
    f = np.asarray(found, np.float64).reshape(-1, 4)
    if len(t) == 0 or len(f) == 0:
        return DetectionScore(0, len(f), len(t))
    iou = iou_matrix(t.astype(np.float32), f.astype(np.float32))
    used_t: set[int] = set()
    used_f: set[int] = set()
    for flat in np.argsort(-iou, axis=None):
        ti, fi = divmod(int(flat), iou.shape[1])
        if iou[ti, fi] < iou_min:
            break
        if ti not in used_t and fi not in used_f:
            used_t.add(ti)
            used_f.add(fi)
    tp = len(used_t)
    return DetectionScore(tp, len(f) - tp, len(t) - tp)
