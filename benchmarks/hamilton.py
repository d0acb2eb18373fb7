"""Throughput and identities on the Hamilton clip: `citywatch watch` against the peer
(face_recognition per frame), measured in the same run.

Usage: python benchmarks/hamilton.py [--peer-python PATH] [--runs N]
Prints one JSON object with both sides and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CITYWATCH_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()
EX = DATA / "face_recognition/examples"
CLIP = EX / "short_hamilton_clip.mp4"
KNOWN = {"Lin-Manuel Miranda": EX / "lin-manuel-miranda.png", "Alex Lacamoire": EX / "alex-lacamoire.png"}
PEER = ROOT.parent / "shared/bench/baseline_face_recognition.py"


def run_citywatch(work: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "CITYWATCH_DATA_DIR": str(work / "data"),
        "CITYWATCH_MODELS_DIR": str(DATA / "models"),
    }
    cmd = [sys.executable, "-m", "citywatch"]
    for name, image in KNOWN.items():
        subprocess.run(
            [
                *cmd,
                "enroll",
                str(image),
                "--name",
                name,
                "--source",
                "benchmark",
                "--legal-basis",
                "benchmark",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
    started = time.perf_counter()
    out = subprocess.run(
        [*cmd, "watch", str(CLIP), "--json"], env=env, check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    summary = lines[-1]
    seen: dict[str, int] = {}
    for t in lines[:-1]:
        if t.get("person"):
            seen[t["person"]] = seen.get(t["person"], 0) + 1
    return {
        "frames": summary["frames_decoded"],
        "pipeline_s": summary["seconds"],
        "pipeline_fps": summary["frames_per_s"],
        "command_wall_s": wall,
        "command_fps": summary["frames_decoded"] / wall,
        "embeddings": summary["embeddings"],
        "tracks": summary["tracks"],
        "alerts": summary["alerts"],
        "tracks_per_identity": seen,
    }


def run_peer(python: str) -> dict[str, object]:
    args = [python, str(PEER), str(CLIP)] + [f"--known={n}={p}" for n, p in KNOWN.items()]
    started = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peer = json.loads(out.stdout)
    peer["command_wall_s"] = wall
    return peer


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer-python", default=str(ROOT / ".bench-venv/bin/python"))
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    ours, theirs = [], []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(run_citywatch(Path(tmp)))
        theirs.append(run_peer(a.peer_python))
    our_fps = statistics.median(float(r["pipeline_fps"]) for r in ours)  # type: ignore[arg-type]
    our_cmd_fps = statistics.median(float(r["command_fps"]) for r in ours)  # type: ignore[arg-type]
    peer_fps = statistics.median(float(r["frames_per_s"]) for r in theirs)  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
                "citywatch": ours[-1],
                "peer": theirs[-1],
                "median_fps": {
                    "citywatch_pipeline": our_fps,
                    "citywatch_command": our_cmd_fps,
                    "peer": peer_fps,
                },
                "ratio_pipeline": our_fps / peer_fps,
                "ratio_command": our_cmd_fps / peer_fps,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
