"""The metric code on small score sets whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from citywatch.bench.metrics import (
    OpenSetScores,
    eer,
    error_curve,
    far,
    fnir,
    fnir_at_fpir,
    fpir,
    frr,
    match_boxes,
    open_set_scores,
    rank1_rate,
    tar_at_far,
)

GENUINE = [0.1, 0.2, 0.3, 0.4]
IMPOSTOR = [0.35, 0.5, 0.6, 0.7]


@pytest.mark.parametrize(
    ("t", "far_", "frr_"),
    [(0.1, 0.0, 1.0), (0.25, 0.0, 0.5), (0.36, 0.25, 0.25), (0.45, 0.25, 0.0), (1.0, 1.0, 0.0)],
)
def test_far_and_frr(t: float, far_: float, frr_: float) -> None:
    assert far(IMPOSTOR, t) == far_
    assert frr(GENUINE, t) == frr_


def test_curve_is_monotonic_and_spans_both_ends() -> None:
    c = error_curve(GENUINE, IMPOSTOR)
    assert c.far[0] == 0 and c.frr[0] == 1
    assert c.far[-1] == 1 and c.frr[-1] == 0
    assert np.all(np.diff(c.far) >= 0) and np.all(np.diff(c.frr) <= 0)


def test_eer_where_the_rates_cross() -> None:
    # From t just above 0.35 to 0.4 both rates are 0.25: the crossing is there.
    e = eer(GENUINE, IMPOSTOR)
    assert e.rate == pytest.approx(0.25)
    assert 0.35 <= e.threshold <= 0.4


def test_eer_interpolates_between_thresholds() -> None:
    # Just above 0.2: FAR 0.25, FRR 0.5 (mean 0.375); just above 0.3: FAR 0.25, FRR 0
    # (mean 0.125). FAR - FRR goes from -0.25 to +0.25: they cross half way.
    e = eer([0.1, 0.3], [0.2, 0.4, 0.5, 0.6])
    assert e.rate == pytest.approx(0.25)
    assert e.threshold == pytest.approx(0.25)


def test_eer_of_separable_scores_is_zero() -> None:
    e = eer([0.1, 0.2], [0.8, 0.9])
    assert e.rate == 0.0
    assert 0.2 < e.threshold <= 0.8


def test_tar_at_far() -> None:
    p = tar_at_far(GENUINE, IMPOSTOR, 0.25)
    assert p.achieved == 0.25 and p.rate == 1.0  # t just above 0.4 keeps one impostor in
    strict = tar_at_far(GENUINE, IMPOSTOR, 0.0)
    assert strict.achieved == 0.0 and strict.rate == 0.75  # below 0.35: three genuine pass
    assert not tar_at_far(GENUINE, IMPOSTOR, 0.01).resolvable  # 4 impostors cannot show 1 %


def test_open_set_scores_from_templates() -> None:
    gallery = [[0.0, 0.0], [10.0, 0.0]]
    probes = [[0.5, 0.0], [9.0, 0.0], [4.0, 0.0], [20.0, 0.0]]
    s = open_set_scores(gallery, ["a", "b"], probes, ["a", "b", "a", "x"])
    assert s.mated_distance.tolist() == [0.5, 1.0, 4.0]
    assert s.mated_rank1.tolist() == [True, True, True]
    assert s.nonmated_distance.tolist() == [10.0]


def test_fnir_counts_wrong_rank1_and_too_far() -> None:
    s = OpenSetScores(
        mated_distance=np.array([0.2, 0.3, 0.7, 0.1]),
        mated_rank1=np.array([True, True, True, False]),
        nonmated_distance=np.array([0.25, 0.8, 0.9, 1.0]),
    )
    assert fnir(s, 0.5) == 0.5  # 0.7 too far, the last one is someone else at rank 1
    assert fpir(s, 0.5) == 0.25
    assert rank1_rate(s) == 0.75
    p = fnir_at_fpir(s, 0.0)
    # t = 0.25: of the mated, only 0.2 is a hit (0.1 ranks someone else first)
    assert p.threshold == 0.25 and p.achieved == 0.0 and p.rate == 0.75
    assert fnir_at_fpir(s, 0.25).threshold == 0.8  # one impostor allowed: up to the next one


@pytest.mark.parametrize(
    ("found", "tp", "fp", "fn"),
    [
        ([[0, 0, 10, 10], [20, 20, 30, 30]], 2, 0, 0),
        ([[0, 0, 10, 10]], 1, 0, 1),
        ([[0, 0, 10, 10], [0, 0, 10, 10]], 1, 1, 1),  # a duplicate counts once
        ([[5, 5, 15, 15]], 0, 1, 2),  # IoU 1/7 < 0.5
        ([[0, 0, 10, 20]], 1, 0, 1),  # IoU exactly 0.5 counts
        ([[0, 0, 30, 30]], 0, 1, 2),  # one big box over both faces matches neither (IoU 1/9)
        ([], 0, 0, 2),
    ],
)
def test_box_matching(found: list[list[float]], tp: int, fp: int, fn: int) -> None:
    score = match_boxes([[0, 0, 10, 10], [20, 20, 30, 30]], found)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (tp, fp, fn)
    if found:
        assert score.precision == tp / (tp + fp)
    assert score.recall == tp / 2
