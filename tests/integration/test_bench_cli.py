"""`citywatch bench accuracy` runs end to end on the shared data and writes its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cli_helpers import citywatch


@pytest.mark.slow
def test_bench_accuracy_writes_report(tmp_path: Path, shared_data: Path) -> None:
    res = citywatch(
        tmp_path,
        shared_data,
        "bench",
        "accuracy",
        "--data",
        str(shared_data),
        "--out",
        "report",
        "--distractors",
        "100",
        timeout=400,
    )
    assert res.code == 0, res.stderr
    data = json.loads((tmp_path / "report/accuracy.json").read_text())
    v = data["verification"]
    assert v["pairs"] == v["genuine"] + v["impostor"] > 2000
    assert 0 <= v["eer"] <= 1
    assert set(data["identification"]) == {"face-api.js", "johns", "face_recognition", "deepface"}
    assert data["detection"]["faces"] == 43
    enrolled = sum(r["enrolled"] for r in data["identification"].values())
    assert data["distractors"][0] == data["distractors"][0] | {"distractors": 100, "gallery": 100 + enrolled}
    assert [row["threshold"] for row in data["sweep"]] == [0.45, 0.5, 0.55, 0.6, 0.65]
    assert (tmp_path / "report/roc_det.png").stat().st_size > 5000
    assert "EER" in res.stdout
