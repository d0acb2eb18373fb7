"""The report writer and the data splits, on fabricated inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from citywatch.bench import metrics
from citywatch.bench.accuracy import AccuracyReport
from citywatch.bench.datasets import IdentitySet, open_set_split
from citywatch.bench.report import write_accuracy


def fabricated() -> AccuracyReport:
    g, i = np.array([0.2, 0.3, 0.5]), np.array([0.55, 0.8, 0.9, 1.0])
    s = metrics.OpenSetScores(np.array([0.2, 0.4]), np.array([True, True]), np.array([0.9]))
    point = {"threshold": 0.5, "achieved": 0.0, "rate": 1.0, "resolvable": False}
    return AccuracyReport(
        model="m",
        detector="d",
        threshold=0.6,
        match_threshold=0.6,
        match_margin=0.04,
        verification={
            "pairs": 7,
            "genuine": 3,
            "impostor": 4,
            "skipped_pairs_no_face": 0,
            "failure_to_acquire_rate": 0.0,
            "eer": metrics.eer(g, i).rate,
            "eer_threshold": 0.52,
            "accuracy_at_threshold": 6 / 7,
            "far_at_threshold": 0.25,
            "frr_at_threshold": 0.0,
            "tar_at_far": {"0.01": point, "0.001": point},
        },
        identification={
            "set": {
                "enrolled": 2,
                "failures_to_enrol": 0,
                "mated_probes": 2,
                "nonmated_probes": 1,
                "rank1": 1.0,
                "fnir_at_operating_point": 0.0,
                "fpir_at_operating_point": 0.0,
                "fnir_at_fpir": {"0.01": point, "0.003": point},
            },
        },
        detection={
            "images": 1,
            "faces": 2,
            "true_positives": 2,
            "false_positives": 0,
            "false_negatives": 0,
            "precision": 1.0,
            "recall": 1.0,
            "iou": 0.5,
        },
        genuine=g,
        impostor=i,
        open_set={"set": s},
        sweep=[
            {"threshold": 0.6, "accuracy": 6 / 7, "far": 0.25, "frr": 0.0, "set": {"fnir": 0.5, "fpir": 0.0}}
        ],
    )


def test_report_files_hold_the_figures(tmp_path: Path) -> None:
    files = write_accuracy(fabricated(), tmp_path, "citywatch bench accuracy")
    data = json.loads(files["json"].read_text())
    assert data["verification"]["pairs"] == 7 and data["threshold"] == 0.6
    md = files["markdown"].read_text()
    assert "| accuracy at the threshold | 85.71 % |" in md
    assert "below the resolution of this data" in md
    assert "| 0.6 | 85.71 % | 25.00 % | 0.00 % | 50.00 % / 0.00 % |" in md
    assert "`citywatch bench accuracy`" in md
    for key in ("distances", "roc_det", "open_set"):
        assert files[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert files[key].stat().st_size > 5000  # a drawn plot, not an empty canvas


def test_open_set_split_holds_out_every_third_identity(tmp_path: Path) -> None:
    images = {f"id{i}": [tmp_path / f"id{i}_{k}.jpg" for k in range(3)] for i in range(6)}
    split = open_set_split(IdentitySet("t", images))
    assert {ident for ident, _ in split.nonmated} == {"id2", "id5"}
    assert [ident for ident, _ in split.gallery] == ["id0", "id1", "id3", "id4"]
    assert len(split.mated) == 8
    assert not {p for _, p in split.gallery} & {p for _, p in split.mated}
