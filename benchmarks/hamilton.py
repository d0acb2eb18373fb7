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


def run_citywatch(work: Path, detect_fps: float | None = None) -> dict[str, object]:
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
    rate = [] if detect_fps is None else ["--detect-fps", str(detect_fps)]
    out = subprocess.run(
        [*cmd, "watch", str(CLIP), "--json", *rate], env=env, check=True, capture_output=True, text=True
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
        "frames_detected": summary["frames_processed"],
        "pipeline_s": summary["seconds"],
        "pipeline_fps": summary["frames_per_s"],
        "command_wall_s": wall,
        "command_fps": summary["frames_decoded"] / wall,
        "embeddings": summary["embeddings"],
        "tracks": summary["tracks"],
        "alerts": summary["alerts"],
        "tracks_per_identity": seen,
    }


def run_peer(python: str, every: int = 1) -> dict[str, object]:
    args = [python, str(PEER), str(CLIP), f"--every={every}"] + [f"--known={n}={p}" for n, p in KNOWN.items()]
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
    # Same run, interleaved: citywatch at its default detection rate (8 fps) and at every
    # frame (the peer's schedule); the peer at every frame and at every 4th (about 8 fps).
    runs: dict[str, list[dict[str, object]]] = {
        k: [] for k in ("cw_default", "cw_every", "peer", "peer_every4")
    }
    for _ in range(a.runs):
        for key, rate in (("cw_default", None), ("cw_every", 30.0)):
            with tempfile.TemporaryDirectory() as tmp:
                runs[key].append(run_citywatch(Path(tmp), rate))
        runs["peer"].append(run_peer(a.peer_python))
        runs["peer_every4"].append(run_peer(a.peer_python, every=4))

    def median(key: str, field: str) -> float:
        return statistics.median(float(r[field]) for r in runs[key])  # type: ignore[arg-type]

    fps = {
        "citywatch_default_pipeline": median("cw_default", "pipeline_fps"),
        "citywatch_default_command": median("cw_default", "command_fps"),
        "citywatch_every_frame_pipeline": median("cw_every", "pipeline_fps"),
        "peer_every_frame": median("peer", "frames_per_s"),
        "peer_every_4th": median("peer_every4", "frames_per_s"),
    }
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}",
                "runs": a.runs,
                "median_fps": fps,
                "ratios": {
                    "default_vs_peer": fps["citywatch_default_pipeline"] / fps["peer_every_frame"],
                    "default_command_vs_peer": fps["citywatch_default_command"] / fps["peer_every_frame"],
                    "every_frame_vs_peer": fps["citywatch_every_frame_pipeline"] / fps["peer_every_frame"],
                    "default_vs_peer_every_4th": fps["citywatch_default_pipeline"] / fps["peer_every_4th"],
                },
                "last_run": {k: v[-1] for k, v in runs.items()},
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
