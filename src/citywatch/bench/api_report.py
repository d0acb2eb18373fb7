"""The API benchmark's report: its figures, as JSON and as Markdown."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from citywatch.bench.api_fill import Fill
from citywatch.bench.api_timing import RouteTiming, percentiles


@dataclass
class ApiReport:
    fill: Fill
    routes: list[RouteTiming] = field(default_factory=list)
    feed_ms: list[float] = field(default_factory=list)
    """Per alert: from the alert's transaction committed to its event read by the SSE client."""

    def as_json(self) -> dict[str, Any]:
        feed = percentiles(self.feed_ms)
        return {
            "fill": asdict(self.fill),
            "routes": [asdict(r) for r in self.routes],
            "feed": {"alerts": len(self.feed_ms), **feed, "max_ms": max(self.feed_ms, default=0.0)},
        }


def api_markdown(report: ApiReport, meta: dict[str, str], target_ms: float = 200.0) -> str:
    f = report.fill
    lines = [
        "## API at size (`citywatch bench api`)",
        "",
        f"- command: `{meta['command']}`",
        f"- date: {meta['date']}; machine: {meta['machine']}",
        f"- data: {f.sightings:,} sightings, {f.alerts:,} alerts, {f.audit:,} chained audit records "
        f"over {f.cameras} cameras and {f.days} days (filled in {f.seconds:.0f} s)",
        "- one client, one request at a time, against the real server (uvicorn) on loopback; "
        "every list read writes its own audit record, as in production",
        "",
        "| route | requests | status | p50 ms | p95 ms | p99 ms | max ms | p95 < 200 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for r in report.routes:
        ok = "yes" if r.p95_ms < target_ms else "**no**"
        call = r.path if r.method == "GET" else f"{r.method} {r.path}"
        lines.append(
            f"| {r.name} (`{call}`) | {r.requests} | {r.status} | {r.p50_ms:.1f} | {r.p95_ms:.1f} "
            f"| {r.p99_ms:.1f} | {r.max_ms:.1f} | {ok} |"
        )
    if not any(r.path == "/api/search" for r in report.routes):
        lines += ["", "Case search: not timed (no `--search-photo` given)."]
    feed = report.as_json()["feed"]
    lines += [
        "",
        f"Live alert feed: {feed['alerts']} alerts, from the alert's commit to its event on an SSE "
        f"client: p50 {feed['p50_ms']:.1f} ms, p95 {feed['p95_ms']:.1f} ms, max {feed['max_ms']:.1f} ms "
        "(target: under 1 s).",
        "",
    ]
    return "\n".join(lines)


def write_api_report(report: ApiReport, meta: dict[str, str], out_dir: Path) -> None:
    """api.json and api.md in `out_dir`, made if missing."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "api.json").write_text(json.dumps({**meta, **report.as_json()}, indent=2) + "\n")
    (out_dir / "api.md").write_text(api_markdown(report, meta))
