"""Stall benchmark: the uploads of issue 13 (a small PNG declaring 20000x20000 pixels, a form
of 180,000 tiny parts) fired at the real server over and over, while `/healthz` is timed;
its latency (p50/p95/max) says whether one request can still stall every other.

The attack payloads are built here once, for the benchmark and for the attack tests
(`tests/security/test_uploads.py`), so both send the same bytes."""

from __future__ import annotations

import json
import multiprocessing
import struct
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

FORM_BOUNDARY = "stall"


def huge_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid PNG of `width` x `height` black pixels (1-bit greyscale, so that it is small and
    quick to build: 20000x20000 is about 50 KB) that a decoder expands to width x height x 3
    bytes of BGR."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def many_parts(parts: int) -> tuple[str, bytes]:
    """(content type, body) of a multipart form of `parts` tiny, well-formed text fields."""
    one = f"--{FORM_BOUNDARY}\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n".encode()
    return f"multipart/form-data; boundary={FORM_BOUNDARY}", one * parts + f"--{FORM_BOUNDARY}--\r\n".encode()


def photo_form(photo: bytes, filename: str = "photo.png") -> tuple[str, bytes]:
    """(content type, body) of the public subject-access form carrying `photo`."""
    request = httpx.Request(
        "POST",
        "http://form/",
        data={
            "requester": "A. Stall",
            "contact": "stall@example.org",
            "cameras": "gate-1",
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2026-01-01T01:00:00Z",
        },
        files={"photo": (filename, photo, "image/png")},
    )
    return request.headers["content-type"], request.read()


@dataclass(frozen=True, slots=True)
class Attack:
    """One upload to fire again and again: a name, the path, its content type and body."""

    name: str
    path: str
    content_type: str
    body: bytes


def issue_13_attacks(parts: int) -> list[Attack]:
    """Issue 13's two uploads to the public form: a PNG declaring 20000x20000 pixels, and a
    form of `parts` tiny parts (the last of the two)."""
    content_type, form = many_parts(parts)
    png = huge_png(20_000, 20_000)
    return [
        Attack("PNG declaring 20000x20000", "/api/public/requests", *photo_form(png)),
        Attack(f"form of {parts} parts", "/api/public/requests", content_type, form),
    ]


@dataclass
class StallReport:
    """`/healthz` latencies (ms) before the attacks (idle, the machine's own noise) and while
    they ran, and what each attack got back."""

    idle_ms: list[float] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)
    health_failed: int = 0
    answers: dict[str, Counter[int]] = field(default_factory=dict)
    attack_ms: dict[str, list[float]] = field(default_factory=dict)

    def health(self, *, idle: bool = False) -> dict[str, float]:
        sample = self.idle_ms if idle else self.health_ms
        ms = np.asarray(sample or [float("nan")])
        return {
            "requests": float(len(sample)),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()),
            "over_100ms": float(np.count_nonzero(ms > 100.0)),
        }

    def markdown(self) -> str:
        lines = [
            "| /healthz | requests | p50 ms | p95 ms | p99 ms | max ms | over 100 ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for label, idle in (("idle, before the attacks", True), ("while attacked", False)):
            h = self.health(idle=idle)
            figures = " | ".join(f"{h[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
            lines.append(f"| {label} | {h['requests']:.0f} | {figures} | {h['over_100ms']:.0f} |")
        lines += [
            "",
            f"Probes that failed or timed out (30 s) while attacked: {self.health_failed}.",
            "",
            "| attack | sent | answers | median ms to answer | max ms |",
            "|---|---|---|---|---|",
        ]
        for name, answers in self.answers.items():
            ms = self.attack_ms.get(name) or [float("nan")]
            codes = ", ".join(f"{code}: {n}" for code, n in sorted(answers.items()))
            lines.append(
                f"| {name} | {sum(answers.values())} | {codes} | {float(np.median(ms)):.0f} | {max(ms):.0f} |"
            )
        return "\n".join(lines) + "\n"


def write_stall(out_dir: Path, report: StallReport, attacks: list[Attack], meta: dict[str, str]) -> None:
    """stall.json and stall.md in `out_dir` (made if missing): the report, with the size of each
    attack's body."""
    sizes = {a.name: len(a.body) for a in attacks}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "stall.json").write_text(
        json.dumps(
            {
                **meta,
                "health_idle": report.health(idle=True),
                "health": report.health(),
                "health_failed": report.health_failed,
                "bodies_bytes": sizes,
                "answers": {k: dict(v) for k, v in report.answers.items()},
            },
            indent=2,
        )
        + "\n"
    )
    heading = "\n".join(f"- {k}: {v}" for k, v in meta.items())
    bodies = "\n".join(f"- {name}: {size:,} bytes" for name, size in sizes.items())
    (out_dir / "stall.md").write_text(f"# Stall benchmark\n\n{heading}\n{bodies}\n\n{report.markdown()}")


def stall(
    url: str, attacks: list[Attack], *, seconds: float, attackers: int = 2, idle_s: float = 5.0
) -> StallReport:
    """Time `/healthz` for `idle_s` (no attack: the baseline), then fire each attack from
    `attackers` threads for `seconds` while one client asks `/healthz` every 10 ms (each with
    a 30 s timeout); the latencies and answers.

    The probe and the attackers each run in a process of their own, apart from the server's,
    so that only the server's work counts against its latency (clients in its process would
    hold its interpreter lock while they build and send 9.5 MB bodies)."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        idle_ms, _ = pool.submit(_probe, url, idle_s).result()
        # both processes are up by then; the attacks are in flight before the first probe
        start = time.time() + _START_S
        fired = pool.submit(_fire, url, attacks, attackers, start + seconds)
        probed = pool.submit(_probe, url, seconds, start + 0.2)
        health_ms, failed = probed.result()
        answers, attack_ms = fired.result()
    return StallReport(idle_ms, health_ms, failed, answers, attack_ms)


_START_S = 3.0
"""How long the attack and probe processes are given to start before the attacks begin."""


def _fire(
    url: str, attacks: list[Attack], attackers: int, until: float
) -> tuple[dict[str, Counter[int]], dict[str, list[float]]]:
    """Fire each attack from `attackers` threads until the wall-clock time `until`: the
    answers' status codes (0: no answer) and times (ms), by attack."""
    answers: dict[str, Counter[int]] = {a.name: Counter() for a in attacks}
    times: dict[str, list[float]] = {a.name: [] for a in attacks}
    lock = threading.Lock()

    def fire(attack: Attack) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            while time.time() < until:
                started = time.perf_counter()
                try:
                    code = client.post(
                        attack.path, content=attack.body, headers={"Content-Type": attack.content_type}
                    ).status_code
                except httpx.HTTPError:
                    code = 0
                with lock:
                    answers[attack.name][code] += 1
                    times[attack.name].append(1000 * (time.perf_counter() - started))

    threads = [
        threading.Thread(target=fire, args=(attack,), daemon=True)
        for attack in attacks
        for _ in range(attackers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180 + max(0.0, until - time.time()))
    with lock:
        return answers, times


def _probe(url: str, seconds: float, start: float | None = None) -> tuple[list[float], int]:
    """`/healthz` asked every 10 ms for `seconds` (from the wall-clock time `start`, or now):
    the latencies (ms) of its answers, and how many probes failed (an error, or no answer
    within 30 s)."""
    if start is not None:
        time.sleep(max(0.0, start - time.time()))
    latencies: list[float] = []
    failed = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=30) as probe:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                ok = probe.get("/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(1000 * (time.perf_counter() - started))
            else:
                failed += 1
            time.sleep(0.01)
    return latencies, failed
