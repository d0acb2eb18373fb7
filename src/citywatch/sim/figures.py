"""What the simulated city's samples and records come to: latency percentiles, rates per
process, backlog, memory and CPU. Pure functions of what `sim.run` gathered."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from citywatch.sim.processes import Sample

AlertTimes = tuple[int, str, float, float]
"""(alert id, camera, track end, alert stored), wall-clock seconds."""


def percentiles(values: Iterable[float]) -> dict[str, float | int]:
    """Count, p50, p95, p99 and max of `values` (in milliseconds where they are seconds)."""
    a = np.asarray(list(values), float)
    if len(a) == 0:
        return {"n": 0}
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"n": len(a), "p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(a.max())}


def window_rate(lines: Sequence[Mapping[str, Any]], key: str, started: float, ended: float) -> float:
    """Per second growth of `key` over the stats lines written within [started, ended]."""
    inside = [line for line in lines if started <= line["t"] <= ended]
    if len(inside) < 2:
        return 0.0
    first, last = inside[0], inside[-1]
    return float((last[key] - first[key]) / max(1e-9, last["t"] - first["t"]))


def per_second(lines: Sequence[Mapping[str, Any]], key: str, started: float) -> list[tuple[float, float]]:
    """(seconds since `started`, per-second growth of `key`) for each stats line after the first."""
    out = []
    for a, b in itertools.pairwise(lines):
        if b["t"] >= started:
            out.append((b["t"] - started, (b[key] - a[key]) / max(1e-9, b["t"] - a["t"])))
    return out


def _share(lines: Sequence[Mapping[str, Any]], part: str, whole: str, started: float, ended: float) -> float:
    whole_rate = window_rate(lines, whole, started, ended)
    return window_rate(lines, part, started, ended) / whole_rate if whole_rate else 0.0


def processes(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    """Each process's peak resident memory (MiB) and mean CPU (cores) over the samples."""
    if len(samples) < 2:
        return {}
    first, last = samples[0], samples[-1]
    span = max(1e-9, last.t - first.t)
    out = {}
    for name in last.rss_mb:
        cpu = (last.cpu_s.get(name, 0.0) - first.cpu_s.get(name, 0.0)) / span
        out[name] = {"rss_mb_peak": max(s.rss_mb.get(name, 0.0) for s in samples), "cpu_cores": cpu}
    out["whole machine"] = {
        "rss_mb_peak": 0.0,
        "cpu_cores": (last.machine_busy_s - first.machine_busy_s) / span,
    }
    return out


def database(samples: Sequence[Sample]) -> dict[str, float]:
    """Sightings, alerts, inserted rows and commits per second over the samples."""
    if len(samples) < 2:
        return {}
    first, last = samples[0], samples[-1]
    span = max(1e-9, last.t - first.t)
    return {
        "sightings_per_s": (last.sightings - first.sightings) / span,
        "alerts_per_s": (last.alerts - first.alerts) / span,
        "rows_inserted_per_s": (last.inserted - first.inserted) / span,
        "commits_per_s": (last.commits - first.commits) / span,
    }


def city(  # noqa: PLR0917 (one call site, named by position there)
    faces_per_s: float,
    alerts: Sequence[AlertTimes],
    stored_lags: Sequence[float],
    received: Mapping[int, float],
    samples: Sequence[Sample],
    stats: Mapping[str, Sequence[Mapping[str, Any]]],
    started: float,
    ended: float,
) -> dict[str, Any]:
    """The city part's figures, and the series its plots draw."""
    latency: dict[str, Any] = {}
    for kind in ("virtual", "real"):
        mine = [a for a in alerts if a[1].startswith(kind)]
        latency[kind] = {
            "to_stored_ms": percentiles(1000 * (stored - end) for _, _, end, stored in mine),
            "to_feed_ms": percentiles(1000 * (received[i] - end) for i, _, end, _ in mine if i in received),
            "not_on_feed": sum(1 for i, *_ in mine if i not in received),
        }
    workers = {
        name: {
            "cameras": lines[-1]["held"] if lines else 0,
            "probes_per_s": window_rate(lines, "probes", started, ended),
            "offered_per_s": (lines[-1]["held"] if lines else 0) * faces_per_s,
            "handed_on_per_s": window_rate(lines, "handed_on", started, ended),
            "false_match_share": _share(lines, "false_matches", "probes", started, ended),
            "busy_share": window_rate(lines, "busy_s", started, ended),
            "behind_s_max": max((line["behind_s"] for line in lines if line["t"] >= started), default=0.0),
        }
        for name, lines in stats.items()
    }
    pending = [s.bus_pending for s in samples if s.bus_pending >= 0]
    return {
        "seconds": ended - started,
        "alerts": len(alerts),
        "latency": latency,
        "sighting_stored_ms": percentiles(1000 * lag for lag in stored_lags),
        "workers": workers,
        "bus_pending": {"max": max(pending, default=0), "mean": float(np.mean(pending)) if pending else 0.0},
        "database": database(samples),
        "processes": processes(samples),
        "series": {
            "t": [s.t - started for s in samples],
            "bus_pending": [s.bus_pending for s in samples],
            "rss_mb": {name: [s.rss_mb.get(name, 0.0) for s in samples] for name in samples[-1].rss_mb}
            if samples
            else {},
            "probes_per_s": {name: per_second(lines, "probes", started) for name, lines in stats.items()},
            "feed_latency_ms": {
                kind: sorted(
                    1000 * (received[i] - end)
                    for i, camera, end, _ in alerts
                    if i in received and camera.startswith(kind)
                )
                for kind in ("virtual", "real")
            },
        },
    }


def flat_out_workers(
    workers: int,
    stats: Mapping[str, Sequence[Mapping[str, Any]]],
    samples: Sequence[Sample],
    started: float,
    ended: float,
) -> dict[str, Any]:
    per = {name: window_rate(lines, "probes", started, ended) for name, lines in stats.items()}
    return {
        "processes": workers,
        "probes_per_s": per,
        "total_probes_per_s": sum(per.values()),
        "busy_share": {name: window_rate(lines, "busy_s", started, ended) for name, lines in stats.items()},
        "usage": processes(samples),
    }


def flat_out_stores(stores: int, samples: Sequence[Sample], before: int, sightings: int) -> dict[str, Any]:
    """The store rate from the first sighting stored to the last (a process's start left out)."""
    storing = [s for s in samples if s.sightings > before]
    rate = 0.0
    if len(storing) >= 2:
        first, last = storing[0], storing[-1]
        rate = (last.sightings - first.sightings) / max(1e-9, last.t - first.t)
    return {
        "processes": stores,
        "sightings": sightings,
        "sightings_per_s": rate,
        "commits_per_s": database(storing).get("commits_per_s", 0.0),
        "usage": processes(storing),
    }


def speedup(parts: Sequence[Mapping[str, Any]], key: str) -> float | None:
    """The rate of the part with two processes over the part with one."""
    by = {p["processes"]: p[key] for p in parts}
    return by[2] / by[1] if by.get(1) and 2 in by else None
