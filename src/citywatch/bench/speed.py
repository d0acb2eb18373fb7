"""`citywatch bench speed`: seconds per stage and frames per second of the pipeline on
video clips, the peer on the same frames in the same run, and 1:N matching latency."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citywatch.config.ingest import ProcessingMode, SourceSettings
from citywatch.domain.errors import Unavailable
from citywatch.ingest.open import open_source
from citywatch.match.index import PersonRef, WatchlistIndex
from citywatch.runtime.build import Runtime


@dataclass
class ClipSpeed:
    clip: str
    frames: int
    frames_detected: int
    seconds: float
    frames_per_s: float
    faces_per_s: float
    stage_seconds: dict[str, float]
    tracks: int
    embeddings: int
    identities: dict[str, int]
    peak_rss_mb: float
    peer: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        fps = self.peer.get("frames_per_s")
        return self.frames_per_s / float(fps) if fps else None


def pipeline_speed(rt: Runtime, clip: Path, *, detect_fps: float, max_frames: int) -> ClipSpeed:
    """Decode and process up to `max_frames` frames of `clip` in this thread, timing each stage."""
    source = open_source("bench", str(clip), SourceSettings(detect_fps=detect_fps))
    pipeline = rt.pipeline("bench", ProcessingMode.INVESTIGATE)
    rt.watchlist_index()
    identities: dict[str, int] = {}

    def count(outcomes: Sequence[Any]) -> None:
        for o in outcomes:
            if o.match.is_match and o.match.best is not None:
                identities[o.match.best.person_name] = identities.get(o.match.best.person_name, 0) + 1

    frames = source.frames()
    decode = 0.0
    started = time.perf_counter()
    while source.health.frames_decoded < max_frames:
        t0 = time.perf_counter()
        frame = next(frames, None)
        decode += time.perf_counter() - t0
        if frame is None:
            break
        count(pipeline.process(frame))
    source.close()
    if isinstance(frames, Generator):
        frames.close()  # releases the decoder now, not at garbage collection
    count(pipeline.flush())
    seconds = time.perf_counter() - started
    stats = pipeline.stats
    stages = {"decode": decode, **dict(stats.seconds)}
    n = source.health.frames_decoded
    return ClipSpeed(
        clip=clip.name,
        frames=n,
        frames_detected=stats.frames,
        seconds=seconds,
        frames_per_s=n / seconds if seconds else 0.0,
        faces_per_s=stats.faces_detected / seconds if seconds else 0.0,
        stage_seconds=stages,
        tracks=stats.tracks,
        embeddings=stats.embeddings,
        identities=identities,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def peer_speed(
    python: str, script: Path, clip: Path, known: dict[str, Path], max_frames: int
) -> dict[str, Any]:
    """The peer script on the same clip and frames, in a subprocess."""
    args = [python, str(script), str(clip), f"--max-frames={max_frames}"]
    args += [f"--known={name}={path}" for name, path in known.items()]
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=3600)  # noqa: S603
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"the peer could not run ({python} {script}): {exc}") from None
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@dataclass(frozen=True, slots=True)
class MatchSpeed:
    gallery: int
    build_s: float
    ms_per_probe: float
    probes_per_s: float


def matching_speed(
    sizes: Sequence[int], *, dim: int = 128, probes: int = 100, seed: int = 0
) -> list[MatchSpeed]:
    """Exact 1:N search of random probes against random galleries of each size (two
    templates per person, the decision rule included)."""
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        vectors = rng.normal(0, 0.09, (n, dim)).astype(np.float32)
        person_ids = np.arange(n, dtype=np.int64) // 2
        persons = {int(i): PersonRef(int(i), f"p{i}", 1, "bench") for i in range(n // 2 + 1)}
        t0 = time.perf_counter()
        index = WatchlistIndex.from_arrays(vectors, person_ids, persons, {1: (0.6, 0.04)})
        build = time.perf_counter() - t0
        queries = rng.normal(0, 0.09, (probes, dim)).astype(np.float32)
        t0 = time.perf_counter()
        for q in queries:
            index.match(q)
        per_probe = (time.perf_counter() - t0) / probes
        out.append(MatchSpeed(n, build, per_probe * 1000, 1 / per_probe))
        del index, vectors
    return out


@dataclass(frozen=True, slots=True)
class AnnSpeed:
    gallery: int
    index: str
    build_s: float
    ms_per_probe: float
    recall_nearest: float
    """Mated probes for which the approximate index returns the exact nearest template."""


def approximate_matching_speed(
    sizes: Sequence[int],
    *,
    dim: int = 128,
    probes: int = 200,
    seed: int = 0,
    m: int = 32,
    ef_search: int = 64,
) -> list[AnnSpeed]:
    """FAISS HNSW against exact search. Probes are gallery templates plus noise of about
    0.4 in distance (a mated probe inside the 0.6 operating threshold), so recall is
    measured where it matters: does the index still find the enrolled template?"""
    import faiss  # noqa: PLC0415 (optional: only this benchmark needs it)

    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        gallery = rng.normal(0, 0.09, (n, dim)).astype(np.float32)
        targets = rng.integers(0, n, probes)
        queries = (gallery[targets] + rng.normal(0, 0.4 / np.sqrt(dim), (probes, dim))).astype(np.float32)
        t0 = time.perf_counter()
        index = faiss.IndexHNSWFlat(dim, m)
        index.hnsw.efSearch = ef_search
        index.add(gallery)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        for q in queries:
            _, found = index.search(q[None], 1)
        per_probe = (time.perf_counter() - t0) / probes
        _, found = index.search(queries, 1)
        exact = [int(np.argmin(((gallery - q) ** 2).sum(axis=1))) for q in queries[: min(probes, 50)]]
        recall = float(np.mean([found[i, 0] == exact[i] for i in range(len(exact))]))
        out.append(AnnSpeed(n, f"faiss HNSW{m}, efSearch {ef_search}", build, per_probe * 1000, recall))
        del index, gallery
    return out


def speed_json(clips: list[ClipSpeed], matching: list[MatchSpeed], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        **meta,
        "clips": [{**asdict(c), "ratio_to_peer": c.ratio} for c in clips],
        "matching": [asdict(m) for m in matching],
        "python": sys.version.split()[0],
    }


def speed_markdown(d: dict[str, Any]) -> str:
    lines = [
        "# Speed report",
        "",
        f"Command: `{d['command']}`  ",
        f"Date: {d['date']}; machine: {d['machine']}  ",
        f"Detection rate: {d['detect_fps']:g} fps; at most {d['max_frames']} frames per clip; "
        "the peer reads the same frames.",
        "",
        "## Pipeline against the peer",
        "",
        "| clip | frames | detected on | citywatch frames/s | peer frames/s | ratio | faces/s "
        "| tracks | embeddings | identities (citywatch) | identities (peer, frame matches) "
        "| process peak RSS so far |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in d["clips"]:
        peer = c["peer"] or {}
        ratio = f"{c['ratio_to_peer']:.1f}×" if c["ratio_to_peer"] else "—"
        lines.append(
            f"| {c['clip']} | {c['frames']} | {c['frames_detected']} | {c['frames_per_s']:.1f} "
            f"| {peer.get('frames_per_s', '—')} | {ratio} | {c['faces_per_s']:.1f} | {c['tracks']} "
            f"| {c['embeddings']} | {_names(c['identities'])} | {_names(peer.get('matches_per_name', {}))} "
            f"| {c['peak_rss_mb']:.0f} MB |"
        )
    lines += ["", "## Seconds per stage (citywatch)", ""]
    stages = sorted({s for c in d["clips"] for s in c["stage_seconds"]})
    lines += ["| clip | " + " | ".join(stages) + " |", "|---|" + "---|" * len(stages)]
    for c in d["clips"]:
        lines.append(
            f"| {c['clip']} | " + " | ".join(f"{c['stage_seconds'].get(s, 0.0):.2f}" for s in stages) + " |"
        )
    lines += [
        "",
        "## 1:N matching (exact, in process)",
        "",
        "| gallery templates | build (s) | ms per probe | probes/s |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {m['gallery']:,} | {m['build_s']:.2f} | {m['ms_per_probe']:.2f} | {m['probes_per_s']:.0f} |"
        for m in d["matching"]
    ]
    if d.get("approximate"):
        lines += [
            "",
            "## 1:N matching (approximate) against exact",
            "",
            "| gallery templates | index | build (s) | ms per probe "
            "| recall of the exact nearest (mated probes) |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {a['gallery']:,} | {a['index']} | {a['build_s']:.1f} | {a['ms_per_probe']:.3f} "
            f"| {100 * a['recall_nearest']:.1f} % |"
            for a in d["approximate"]
        ]
    st = d.get("store")
    if st:
        lines += [
            "",
            "## Store (SQLite, WAL, synchronous=FULL)",
            "",
            f"- Sightings written one by one as the pipeline writes them (crop file fsynced, then one "
            f"transaction): {st['sightings_per_s']:.0f} per second over {st['written']}.",
            f"- Case search among {st['stored_total']:,} stored sightings "
            f"({st['fill_s']:.0f} s to bulk-load): {st['case_cameras']} cameras x {st['case_hours']:g} h "
            f"held {st['case_candidates']:,} candidates; "
            f"loading and ranking them for one probe took {1000 * st['case_search_s']:.0f} ms.",
        ]
    return "\n".join([*lines, ""])


def _names(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
