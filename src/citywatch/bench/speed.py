"""`citywatch bench speed`: seconds per stage and frames per second of the pipeline on
video clips, the peer on the same frames in the same run, and 1:N matching latency."""

from __future__ import annotations

import contextlib
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
import numpy.typing as npt

from citywatch.bench.authorised import authorise_benchmark
from citywatch.config.ingest import CameraSettings, ProcessingMode, SourceSettings
from citywatch.domain.errors import Unavailable
from citywatch.domain.matching import Candidate
from citywatch.ingest.open import open_source
from citywatch.match.index import PersonRef, WatchlistIndex, decide
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
    """The peer on every frame (its default)."""
    peer_sampled: dict[str, Any] = field(default_factory=dict)
    """The peer on every n-th frame, about citywatch's detection rate."""

    @property
    def ratio(self) -> float | None:
        fps = self.peer.get("frames_per_s")
        return self.frames_per_s / float(fps) if fps else None

    @property
    def ratio_sampled(self) -> float | None:
        fps = self.peer_sampled.get("frames_per_s")
        return self.frames_per_s / float(fps) if fps else None


def pipeline_speed(rt: Runtime, clip: Path, *, detect_fps: float, max_frames: int) -> ClipSpeed:
    """Decode and process up to `max_frames` frames of `clip` in this thread, timing each stage."""
    source = open_source("bench", str(clip), SourceSettings(detect_fps=detect_fps))
    authorise_benchmark(rt, ["bench"])
    camera = CameraSettings(id="bench", url=str(clip), mode=ProcessingMode.INVESTIGATE)
    pipeline = rt.pipeline(camera)
    rt.gallery.index()
    identities: dict[str, int] = {}

    def count(outcomes: Sequence[Any]) -> None:
        for o in outcomes:
            if o.match.is_match and o.match.best is not None:
                identities[o.match.best.person_name] = identities.get(o.match.best.person_name, 0) + 1

    reset_peak_memory()
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
        peak_rss_mb=peak_memory_mb(),
    )


def reset_peak_memory() -> None:
    """Start a new resident-memory high-water mark for this process (Linux; ignored elsewhere)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_mb() -> float:
    """Resident-memory high-water mark since the last reset (VmHWM), else the process peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peer_speed(
    python: str, script: Path, clip: Path, known: dict[str, Path], max_frames: int, *, every: int = 1
) -> dict[str, Any]:
    """The peer script on the same clip and frames (every `every`-th), in a subprocess."""
    args = [python, str(script), str(clip), f"--max-frames={max_frames}", f"--every={every}"]
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
    match_recall: float
    """Of the mated probes the exact index matches (threshold + margin), the share the
    approximate index matches to the same person."""
    decisions_agree: float
    """Share of all probes (mated and not) given the same answer by both indexes."""


def clustered_gallery(
    persons: int, *, dim: int = 128, per_person: int = 2, seed: int = 0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Synthetic templates shaped like face embeddings: person centres about 0.9 apart (the
    impostor distance of the real data), each person's templates about 0.4 apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.9 / np.sqrt(2 * dim), (persons, dim))
    noise = rng.normal(0, 0.4 / np.sqrt(2 * dim), (persons, per_person, dim))
    vectors = (centres[:, None, :] + noise).reshape(-1, dim).astype(np.float32)
    return vectors, np.repeat(np.arange(persons, dtype=np.int64), per_person), centres


def approximate_matching_speed(
    sizes: Sequence[int],
    *,
    dim: int = 128,
    probes: int = 200,
    seed: int = 0,
    m: int = 32,
    ef_search: int = 64,
    k: int = 10,
    threshold: float = 0.6,
    margin: float = 0.04,
) -> list[AnnSpeed]:
    """FAISS HNSW against the exact index, on clustered synthetic templates: half the probes
    are new photos of enrolled persons, half of people not enrolled. The approximate side
    takes its `k` nearest templates and applies the same threshold-and-margin rule."""
    import faiss  # noqa: PLC0415 (optional: only this benchmark needs it)

    rng = np.random.default_rng(seed + 1)
    out = []
    for n in sizes:
        vectors, person_ids, centres = clustered_gallery(max(n // 2, 1), dim=dim, seed=seed)
        persons = {int(i): PersonRef(int(i), f"p{i}", 1, "bench") for i in range(len(centres))}
        limits = {1: (threshold, margin)}
        exact = WatchlistIndex.from_arrays(vectors, person_ids, persons, limits)
        mated = centres[rng.integers(0, len(centres), probes // 2)]
        strangers = rng.normal(0, 0.9 / np.sqrt(2 * dim), (probes - len(mated), dim))
        queries = (
            np.vstack([mated, strangers]) + rng.normal(0, 0.4 / np.sqrt(2 * dim), (probes, dim))
        ).astype(np.float32)
        t0 = time.perf_counter()
        index = faiss.IndexHNSWFlat(dim, m)
        index.hnsw.efSearch = ef_search
        index.add(vectors)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        for q in queries:
            index.search(q[None], k)
        per_probe = (time.perf_counter() - t0) / probes
        distances, rows = index.search(queries, k)
        agree, matched, kept = _agreement(
            exact, queries, distances=distances, rows=rows, person_ids=person_ids, limits=limits
        )
        out.append(
            AnnSpeed(
                len(vectors),
                f"faiss HNSW{m}, efSearch {ef_search}, k {k}",
                build,
                per_probe * 1000,
                kept / matched if matched else 0.0,
                agree / probes,
            )
        )
        del index, vectors, exact
    return out


def _agreement(
    exact: WatchlistIndex,
    queries: npt.NDArray[np.float32],
    *,
    distances: npt.NDArray[np.float32],
    rows: npt.NDArray[np.int64],
    person_ids: npt.NDArray[np.int64],
    limits: dict[int, tuple[float, float]],
) -> tuple[int, int, int]:
    """How the approximate index's nearest templates (`distances` squared, `rows`, per query)
    decide against the exact index: (probes answered the same, probes the exact index matches,
    of those the ones matched to the same person)."""
    agree = matched = kept = 0
    for q, d2, r in zip(queries, distances, rows, strict=True):
        want = exact.match(q)
        nearest: dict[int, float] = {}
        for dist2, row in zip(d2, r, strict=True):
            if row >= 0:
                pid = int(person_ids[row])
                nearest[pid] = min(nearest.get(pid, np.inf), float(np.sqrt(max(dist2, 0.0))))
        got = decide([Candidate(p, f"p{p}", 1, "bench", dist) for p, dist in nearest.items()], limits)
        same = got.is_match == want.is_match and (
            not want.is_match
            or (got.best is not None and want.best is not None and got.best.person_id == want.best.person_id)
        )
        agree += same
        if want.is_match:
            matched += 1
            kept += same
    return agree, matched, kept


def speed_json(clips: list[ClipSpeed], matching: list[MatchSpeed], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        **meta,
        "clips": [
            {**asdict(c), "ratio_to_peer": c.ratio, "ratio_to_peer_sampled": c.ratio_sampled} for c in clips
        ],
        "matching": [asdict(m) for m in matching],
        "python": sys.version.split()[0],
    }


def speed_markdown(d: dict[str, Any]) -> str:
    lines = [
        "# Speed report",
        "",
        f"Command: `{d['command']}`  ",
        f"Date: {d['date']}; machine: {d['machine']}  ",
        f"Detection rate: {d['detect_fps']:g} fps; at most {d['max_frames']} frames per clip. The peer "
        "reads the same frames twice: detecting on every frame (its default) and on every n-th frame, "
        "n chosen to match citywatch's detection rate.",
        "",
        "## Pipeline against the peer",
        "",
        "| clip | frames | citywatch detected on | citywatch frames/s | peer, every frame | ratio "
        "| peer, every n-th | ratio | faces/s | tracks | embeddings | identities (citywatch, tracks) "
        "| identities (peer, every frame, frame matches) | peak RSS in this clip |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in d["clips"]:
        peer, sampled = c["peer"] or {}, c["peer_sampled"] or {}
        lines.append(
            f"| {c['clip']} | {c['frames']} | {c['frames_detected']} | {c['frames_per_s']:.1f} "
            f"| {peer.get('frames_per_s', '—')} | {_ratio(c['ratio_to_peer'])} "
            f"| {sampled.get('frames_per_s', '—')} (n={sampled.get('every', '—')}) "
            f"| {_ratio(c['ratio_to_peer_sampled'])} | {c['faces_per_s']:.1f} | {c['tracks']} "
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
            "Clustered synthetic templates (persons about 0.9 apart, their own photos about 0.4"
            " apart); half the probes enrolled persons, half strangers; both sides decide with the"
            " same threshold and margin.",
            "",
            "| gallery templates | index | build (s) | ms per probe | matches kept | decisions agreeing |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {a['gallery']:,} | {a['index']} | {a['build_s']:.1f} | {a['ms_per_probe']:.3f} "
            f"| {100 * a['match_recall']:.1f} % | {100 * a['decisions_agree']:.1f} % |"
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
            f"loading and ranking them took {1000 * st['case_search_s']:.0f} ms per probe (median of 5), "
            f"finding a median {st['case_hits']:g} of the 3 planted sightings of each probe's face.",
        ]
    return "\n".join([*lines, ""])


def _ratio(value: float | None) -> str:
    return f"{value:.1f}×" if value else "—"


def _names(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
