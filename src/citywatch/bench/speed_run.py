"""One run of `citywatch bench speed`: each clip (and the peer on it), the store, the report written."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from citywatch.bench.progress import Progress
from citywatch.bench.speed import (
    AnnSpeed,
    ClipSpeed,
    clustered_gallery,
    peer_speed,
    pipeline_speed,
    speed_markdown,
)
from citywatch.bench.store import DAY0, StoreSpeed, case_search, fill, plant, write_rate
from citywatch.media.images import encode_jpeg
from citywatch.runtime.build import Runtime


def clip_speeds(
    rt: Runtime,
    clips: list[Path],
    *,
    detect_fps: float,
    max_frames: int,
    known: dict[str, Path],
    peer: tuple[Path, Path] | None,
    status: Callable[[str], None],
) -> list[ClipSpeed]:
    """citywatch on each clip, then, given a `peer` (its Python and script), the peer on the same
    frames twice: every frame, and every n-th frame (n about citywatch's detection rate)."""
    results = []
    for clip in clips:
        status(f"citywatch on {clip.name}")
        result = pipeline_speed(rt, clip, detect_fps=detect_fps, max_frames=max_frames)
        if peer is not None:
            peer_python, peer_script = peer
            status(f"peer on {clip.name}")
            result.peer = peer_speed(str(peer_python), peer_script, clip, known, result.frames)
            every = max(1, round(result.frames / max(result.frames_detected, 1)))
            result.peer_sampled = peer_speed(
                str(peer_python), peer_script, clip, known, result.frames, every=every
            )
            result.peer_sampled["every"] = every
        results.append(result)
    return results


def store_speed(rt: Runtime, writes: int, rows: int, progress: Progress) -> StoreSpeed | None:
    """Sightings written one by one (`writes`), then a case search among `rows` more stored in
    bulk; None when both are 0."""
    if not writes and not rows:
        return None
    crop = encode_jpeg(np.random.default_rng(0).integers(0, 255, (120, 100, 3), dtype=np.uint8))
    rate = write_rate(rt.sightings, writes, crop, dim=rt.embedder.dim) if writes else 0.0
    cameras, days = 100, 5
    fill_s = (
        fill(rt.database, rows, cameras=cameras, days=days, dim=rt.embedder.dim, progress=progress)
        if rows
        else 0.0
    )
    scope = [f"cam-{i:04d}" for i in range(3)]
    since = DAY0 + timedelta(days=2)
    probes = clustered_gallery(5, dim=rt.embedder.dim, per_person=1, seed=9)[2].astype(np.float32)
    plant(rt.sightings, probes, camera=scope[0], at=since + timedelta(hours=3))
    seconds, candidates, hits = case_search(
        rt.sightings, probes, cameras=scope, since=since, until=since + timedelta(hours=24)
    )
    return StoreSpeed(writes, rate, rows + writes, fill_s, len(scope), 24.0, candidates, seconds, hits)


def write_speed(
    out_dir: Path, report: dict[str, Any], store: StoreSpeed | None, approximate: list[AnnSpeed]
) -> None:
    """speed.json and speed.md in `out_dir` (made if missing): `report` (from `speed_json`)
    with the store's and the approximate index's figures."""
    report["store"] = asdict(store) if store else None
    report["approximate"] = [asdict(a) for a in approximate]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "speed.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "speed.md").write_text(speed_markdown(report))
