"""Writes an accuracy report as JSON (for machines), Markdown and PNG plots (for people)."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure  # the object API: no pyplot state, no display needed

from citywatch.bench import metrics
from citywatch.bench.accuracy import AccuracyReport


def write_accuracy(report: AccuracyReport, out: Path, command: str) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "model": report.model,
        "detector": report.detector,
        "threshold": report.threshold,
        "match_threshold": report.match_threshold,
        "match_margin": report.match_margin,
    }
    data = {
        **meta,
        "verification": report.verification,
        "identification": report.identification,
        "distractors": report.distractor_curve,
        "sweep": report.sweep,
        "detection": report.detection,
        "failures_to_acquire": report.failures_to_acquire,
    }
    files = {
        "json": out / "accuracy.json",
        "distances": out / "distances.png",
        "roc_det": out / "roc_det.png",
        "open_set": out / "open_set.png",
        "markdown": out / "accuracy.md",
    }
    files["json"].write_text(json.dumps(data, indent=2) + "\n")
    _distances_plot(report, files["distances"])
    _roc_det_plot(report, files["roc_det"])
    _open_set_plot(report, files["open_set"])
    files["markdown"].write_text(_markdown(data))
    return files


def _distances_plot(r: AccuracyReport, path: Path) -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    bins = np.linspace(0, max(1.2, float(np.max(np.r_[r.genuine, r.impostor], initial=1.0))), 60).tolist()
    ax.hist(r.genuine, bins=bins, alpha=0.6, density=True, label=f"genuine ({len(r.genuine)})")
    ax.hist(r.impostor, bins=bins, alpha=0.6, density=True, label=f"impostor ({len(r.impostor)})")
    ax.axvline(r.threshold, color="k", linestyle="--", label=f"threshold {r.threshold:g}")
    ax.set_xlabel("Euclidean distance between templates")
    ax.set_ylabel("density")
    ax.set_title("Genuine and impostor distances")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _roc_det_plot(r: AccuracyReport, path: Path) -> None:
    c = metrics.error_curve(r.genuine, r.impostor)
    fig = Figure(figsize=(10, 4))
    roc, det = fig.subplots(1, 2)
    floor = 1.0 / max(len(r.impostor), 1) / 2
    roc.plot(np.maximum(c.far, floor), c.tar, drawstyle="steps-post")
    roc.set_xscale("log")
    roc.set_xlabel("FAR (false accept rate)")
    roc.set_ylabel("TAR (true accept rate)")
    roc.set_title("ROC")
    roc.grid(True, which="both", alpha=0.3)
    det.plot(
        np.maximum(c.far, floor), np.maximum(c.frr, 1.0 / max(len(r.genuine), 1) / 2), drawstyle="steps-post"
    )
    det.set_xscale("log")
    det.set_yscale("log")
    det.set_xlabel("FAR")
    det.set_ylabel("FRR (false reject rate)")
    det.set_title("DET (rates of 0 drawn at half the resolution)")
    det.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _open_set_plot(r: AccuracyReport, path: Path) -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ts = np.linspace(0.2, 1.0, 81)
    for name, s in r.open_set.items():
        ax.plot([metrics.fpir(s, t) for t in ts], [metrics.fnir(s, t) for t in ts], marker=".", label=name)
    ax.set_xlabel("FPIR (non-mated probes that return someone)")
    ax.set_ylabel("FNIR (mated probes missed)")
    ax.set_title("Open-set identification, thresholds 0.2 to 1.0")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _markdown(d: dict[str, Any]) -> str:
    v, det = d["verification"], d["detection"]
    lines = [
        "# Accuracy report",
        "",
        f"Command: `{d['command']}`  ",
        f"Date: {d['date']}; machine: {d['machine']}  ",
        f"Model: {d['model']}; detector: {d['detector']}; verification threshold (distance) "
        f"{d['threshold']:g}; watchlist matching: threshold {d['match_threshold']:g}, "
        f"margin {d['match_margin']:g}",
        "",
        "## Verification",
        "",
        f"{v['pairs']} pairs ({v['genuine']} genuine, {v['impostor']} impostor; "
        f"{v['skipped_pairs_no_face']} skipped for want of a face: failure-to-acquire rate "
        f"{_pct(v['failure_to_acquire_rate'])}).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| EER | {_pct(v['eer'])} (at distance {v['eer_threshold']:.3f}) |",
        f"| accuracy at the threshold | {_pct(v['accuracy_at_threshold'])} |",
        f"| FAR / FRR at the threshold | {_pct(v['far_at_threshold'])} / {_pct(v['frr_at_threshold'])} |",
    ]
    for target, p in v["tar_at_far"].items():
        note = "" if p["resolvable"] else " (below the resolution of this data)"
        lines.append(f"| TAR at FAR {target} | {_pct(p['rate'])} (distance {p['threshold']:.3f}){note} |")
    lines += [
        "",
        "![distances](distances.png)",
        "",
        "![ROC and DET](roc_det.png)",
        "",
        "## Open-set identification",
        "",
        "One enrolled image per identity (the first that yields a face); every third identity (by"
        " name) is not enrolled and gives the non-mated probes. The operating point is the live"
        " decision rule (threshold and margin over the runner-up); the FNIR-at-FPIR columns sweep"
        " the threshold alone.",
        "",
        "| set | enrolled (failed) | mated | non-mated | rank-1 | FNIR / FPIR at the operating point "
        "| FNIR at FPIR 0.01 | FNIR at FPIR 0.003 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in d["identification"].items():
        at = r["fnir_at_fpir"]
        lines.append(
            f"| {name} | {r['enrolled']} ({r['failures_to_enrol']}) | {r['mated_probes']} "
            f"| {r['nonmated_probes']} "
            f"| {_pct(r['rank1'])} | "
            f"{_pct(r['fnir_at_operating_point'])} / {_pct(r['fpir_at_operating_point'])} | "
            f"{_pct(at['0.01']['rate'])}{'' if at['0.01']['resolvable'] else '*'} | "
            f"{_pct(at['0.003']['rate'])}{'' if at['0.003']['resolvable'] else '*'} |"
        )
    lines += [
        "",
        "\\* fewer non-mated probes than the FPIR target can resolve.",
        "",
        "![open set](open_set.png)",
    ]
    if d["sweep"]:
        names = [k for k in d["sweep"][0] if isinstance(d["sweep"][0][k], dict)]
        lines += [
            "",
            "### Threshold sweep (margin fixed)",
            "",
            "| threshold | accuracy | FAR | FRR | " + " | ".join(f"{n} FNIR / FPIR" for n in names) + " |",
            "|---|---|---|---|" + "---|" * len(names),
        ]
        for row in d["sweep"]:
            cells = [f"{_pct(row[n]['fnir'])} / {_pct(row[n]['fpir'])}" for n in names]
            lines.append(
                f"| {row['threshold']:g} | {_pct(row['accuracy'])} | {_pct(row['far'])} "
                f"| {_pct(row['frr'])} | " + " | ".join(cells) + " |"
            )
    if d["distractors"]:
        lines += [
            "",
            "### Growing the gallery with synthetic distractors",
            "",
            "All sets' enrolled templates in one gallery, plus synthetic templates drawn from a"
            " Gaussian fitted to the enrolled ones (pessimistic: it fills the space between"
            " identities); FNIR and FPIR at the operating point.",
            "",
            "| gallery size | of which synthetic | FNIR | FPIR |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {x['gallery']:,} | {x['distractors']:,} | {_pct(x['fnir_at_operating_point'])} "
            f"| {_pct(x['fpir_at_operating_point'])} |"
            for x in d["distractors"]
        ]
    lines += [
        "",
        "## Detection",
        "",
        f"{det['faces']} labelled faces in {det['images']} images (dlib examples), IoU ≥ {det['iou']}: "
        f"precision {_pct(det['precision'])}, recall {_pct(det['recall'])} "
        f"({det['true_positives']} found, {det['false_positives']} false, {det['false_negatives']} missed).",
        "",
        f"Failures to acquire a face: {len(d['failures_to_acquire'])}.",
        "",
    ]
    return "\n".join(lines)
