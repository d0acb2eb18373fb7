"""`citywatch bench live`: several cameras replayed in real time at once: does the
pipeline keep up (frames dropped), and does memory stay flat?"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from citywatch.config.ingest import CameraSettings, ProcessingMode, SourceSettings
from citywatch.runtime.build import Runtime

WARM_UP_S = 60.0
"""Memory is compared with its level after this long (or a sixth of a shorter run)."""


def rss_mb() -> float:
    """Resident memory of this process now (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass(frozen=True, slots=True)
class LiveCamera:
    camera_id: str
    frames_decoded: int
    frames_to_analyse: int
    frames_analysed: int
    dropped: int

    @property
    def dropped_pct(self) -> float:
        return 100.0 * self.dropped / self.frames_to_analyse if self.frames_to_analyse else 0.0


@dataclass
class LiveReport:
    clip: str
    streams: int
    seconds: float
    detect_fps: float
    cameras: list[LiveCamera]
    rss_mb_after_warm_up: float
    rss_mb_end: float
    peak_rss_mb: float
    rss_samples: list[tuple[float, float]] = field(default_factory=list)

    @property
    def dropped_pct(self) -> float:
        total = sum(c.frames_to_analyse for c in self.cameras)
        return 100.0 * sum(c.dropped for c in self.cameras) / total if total else 0.0

    @property
    def memory_growth_pct(self) -> float:
        return 100.0 * (self.rss_mb_end - self.rss_mb_after_warm_up) / self.rss_mb_after_warm_up

    def as_json(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k != "cameras"},
            "cameras": [{**asdict(c), "dropped_pct": c.dropped_pct} for c in self.cameras],
            "dropped_pct": self.dropped_pct,
            "memory_growth_pct": self.memory_growth_pct,
        }


def live_load(
    rt: Runtime,
    clip: Path,
    *,
    streams: int,
    seconds: float,
    detect_fps: float,
    tick: Callable[[float], None] = lambda _: None,
) -> LiveReport:
    """Replay `clip` as `streams` live cameras for `seconds`, then stop them cleanly."""
    source = SourceSettings(detect_fps=detect_fps, replay=True)
    workers = [
        rt.camera_worker(
            CameraSettings(id=f"live-{i}", url=str(clip), mode=ProcessingMode.WATCHLIST, source=source)
        )
        for i in range(streams)
    ]
    warm_up = min(WARM_UP_S, seconds / 6)
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    for w in workers:
        w.start()
    warm_rss = 0.0
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(1.0, seconds - elapsed))
        now = time.monotonic() - started
        samples.append((round(now, 1), rss_mb()))
        if not warm_rss and now >= warm_up:
            warm_rss = samples[-1][1]
        tick(now)
    for w in workers:
        w.stop()
    for w in workers:
        w.join(30)
    cameras = [
        LiveCamera(
            camera_id=w.source.camera_id,
            frames_decoded=w.source.health.frames_decoded,
            frames_to_analyse=w.source.health.frames_sampled,
            frames_analysed=w.pipeline.stats.frames,
            dropped=w.status().dropped,
        )
        for w in workers
    ]
    return LiveReport(
        clip=clip.name,
        streams=streams,
        seconds=seconds,
        detect_fps=detect_fps,
        cameras=cameras,
        rss_mb_after_warm_up=warm_rss or samples[0][1],
        rss_mb_end=samples[-1][1],
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        rss_samples=samples,
    )


def live_markdown(r: LiveReport, meta: dict[str, Any]) -> str:
    lines = [
        "# Live load report",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; machine: {meta['machine']}  ",
        f"{r.streams} cameras replaying `{r.clip}` in real time for {r.seconds:.0f} s, detection at "
        f"{r.detect_fps:g} fps each, watchlist mode.",
        "",
        "| camera | frames decoded | frames to analyse | analysed | dropped | dropped % |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c.camera_id} | {c.frames_decoded} | {c.frames_to_analyse} | {c.frames_analysed} | {c.dropped} "
        f"| {c.dropped_pct:.2f} % |"
        for c in r.cameras
    ]
    lines += [
        "",
        f"All cameras: {r.dropped_pct:.2f} % of the frames to analyse dropped.",
        "",
        f"Memory (resident): {r.rss_mb_after_warm_up:.0f} MB after warm-up, {r.rss_mb_end:.0f} MB at the end "
        f"({r.memory_growth_pct:+.1f} %), peak {r.peak_rss_mb:.0f} MB.",
        "",
    ]
    return "\n".join(lines)
