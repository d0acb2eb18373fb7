"""Calibrate the default distance thresholds on the shared labelled data.

Verification: genuine and impostor distances on deepface/pairs_all.csv; accuracy,
false match rate (FMR) and false non-match rate (FNMR) at each candidate threshold.
Identification (open set): galleries of one image per person on face-api.js and
dlib/examples/johns, each person left out in turn to measure false alarms.

Usage: python benchmarks/calibrate.py   (prints a JSON report)
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from citywatch.config.vision import DlibResNetSettings, QualitySettings, YuNetSettings
from citywatch.services.faces import one_face
from citywatch.vision.factory import build_detector, build_embedder

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CITYWATCH_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()
THRESHOLDS = [0.45, 0.5, 0.55, 0.6, 0.65]
MARGINS = [0.0, 0.02, 0.04, 0.08]


def main() -> int:
    detector = build_detector(YuNetSettings(), DATA / "models")
    embedder = build_embedder(DlibResNetSettings())
    cache: dict[Path, np.ndarray] = {}

    def template(p: Path) -> np.ndarray:
        if p not in cache:
            cache[p] = one_face(p, detector, embedder, QualitySettings(), largest=True).template
        return cache[p]

    rows = list(csv.DictReader((DATA / "deepface/pairs_all.csv").open()))
    d = np.array(
        [
            np.linalg.norm(
                template(DATA / "deepface" / r["file_x"]) - template(DATA / "deepface" / r["file_y"])
            )
            for r in rows
        ]
    )
    same = np.array([r["same_person"] == "1" for r in rows])
    verification = {
        f"{t:.2f}": {
            "accuracy": float(((d < t) == same).mean()),
            "fmr": float((d[~same] < t).mean()),
            "fnmr": float((d[same] >= t).mean()),
        }
        for t in THRESHOLDS
    }
    report: dict[str, object] = {
        "verification": {
            "pairs": len(rows),
            "genuine": int(same.sum()),
            "impostor": int((~same).sum()),
            "genuine_distance": {"mean": float(d[same].mean()), "max": float(d[same].max())},
            "impostor_distance": {"mean": float(d[~same].mean()), "min": float(d[~same].min())},
            "by_threshold": verification,
        }
    }
    for name, pattern in (
        ("face-api.js", "face-api.js/examples/images/*/*.png"),
        ("johns", "dlib/examples/johns/*/*.jpg"),
    ):
        people: dict[str, list[Path]] = defaultdict(list)
        for p in sorted(DATA.glob(pattern)):
            people[p.parent.name].append(p)
        names = sorted(people)
        gallery = np.stack([template(people[n][0]) for n in names])
        probes = [(names.index(n), template(p)) for n in names for p in people[n][1:]]
        table = {}
        for t in THRESHOLDS:
            for m in MARGINS:
                hits = alarms = 0
                for truth, vec in probes:
                    dist = np.linalg.norm(gallery - vec, axis=1)
                    order = np.argsort(dist)
                    hits += order[0] == truth and dist[order[0]] < t and dist[order[1]] - dist[order[0]] >= m
                    # the same probe against the gallery without its own person
                    rest = np.delete(dist, truth)
                    o = np.argsort(rest)
                    alarms += rest[o[0]] < t and rest[o[1]] - rest[o[0]] >= m
                table[f"t={t:.2f} m={m:.2f}"] = {
                    "identified": hits / len(probes),
                    "false_alarm_on_unknown": alarms / len(probes),
                }
        report[name] = {"persons": len(names), "probes": len(probes), "open_set": table}
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
