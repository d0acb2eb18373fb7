"""`citywatch bench …`: measure the configured pipeline and write reports."""

from __future__ import annotations

import json
import logging
import os
import platform
import shlex
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from citywatch.bench import api as api_bench
from citywatch.bench.accuracy import run_accuracy
from citywatch.bench.live import live_load, live_markdown, rss_mb
from citywatch.bench.progress import Progress as ProgressCallback
from citywatch.bench.report import write_accuracy
from citywatch.bench.speed import (
    approximate_matching_speed,
    clustered_gallery,
    matching_speed,
    peer_speed,
    pipeline_speed,
    speed_json,
    speed_markdown,
)
from citywatch.bench.store import DAY0, StoreSpeed, case_search, fill, plant, write_rate
from citywatch.cli.context import runtime
from citywatch.cli.output import err, out
from citywatch.cli.permissions import requires
from citywatch.config.api import ApiSettings
from citywatch.config.audit import AuditSettings
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.media.images import encode_jpeg
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.watchlists.enrolment import Enrolment

bench_app = typer.Typer(
    help="Measure accuracy and speed; reports as Markdown, PNG and JSON.", no_args_is_help=True
)


def default_data() -> Path:
    return Path(os.environ.get("CITYWATCH_TEST_DATA", "../shared/data"))


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InvalidInput(f"--distractors: {text!r} is not a comma-separated list of numbers") from None
    if any(n < 1 or n > 2_000_000 for n in sizes):
        raise InvalidInput("--distractors: each size must be between 1 and 2,000,000")
    return sizes


@bench_app.command("accuracy")
@requires(Permission.BENCHMARK)
def accuracy(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(help="Labelled data folder (default ../shared/data).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for accuracy.md, .json and plots.")] = Path(
        "bench-results/accuracy"
    ),
    distractors: Annotated[
        str, typer.Option(help="Synthetic gallery sizes for an FPIR-growth test, e.g. 1000,10000.")
    ] = "",
) -> None:
    """Verification (EER, TAR at FAR), open-set identification (FNIR at FPIR) and detection
    (precision, recall) on the labelled data."""
    rt = runtime(ctx)
    folder = (data or default_data()).resolve()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = int(bar.add_task(stage, total=total))
            bar.update(tasks[stage], completed=done)  # type: ignore[arg-type]

        report = run_accuracy(
            folder,
            detector=rt.detector,
            embedder=rt.embedder,
            quality=rt.settings.quality,
            verify_threshold=rt.settings.matching.verify_threshold,
            threshold=rt.settings.matching.threshold,
            margin=rt.settings.matching.margin,
            distractors=_sizes(distractors),
            progress=progress,
        )
    command = "citywatch " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    files = write_accuracy(report, out_dir, command)
    v = report.verification
    accuracy_pct = 100 * v["accuracy_at_threshold"]
    out.print(
        f"EER {100 * v['eer']:.2f} %, accuracy at {report.threshold:g}: {accuracy_pct:.2f} % "
        f"over {v['pairs']} pairs; report in {files['markdown']}"
    )


CLIPS = (
    "face_recognition/examples/short_hamilton_clip.mp4",
    "dlib/dlib/test/ffmpeg_data/MOT20-08-raw_shorter.h264",
    "dlib/dlib/test/ffmpeg_data/MOT20-05-raw_even_shorter.mp4",
    "dlib/dlib/test/ffmpeg_data/MOT17-13-SDP-raw.h265",
)
KNOWN = {
    "Lin-Manuel Miranda": "face_recognition/examples/lin-manuel-miranda.png",
    "Alex Lacamoire": "face_recognition/examples/alex-lacamoire.png",
}


@bench_app.command("speed")
@requires(Permission.BENCHMARK)
def speed(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option(help="Data folder with the clips (default ../shared/data).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for speed.md and speed.json.")] = Path(
        "bench-results/speed"
    ),
    max_frames: Annotated[int, typer.Option(min=1, max=100_000, help="Frames read per clip.")] = 300,
    detect_fps: Annotated[float | None, typer.Option(min=0.1, max=60, help="Detection rate.")] = None,
    peer_python: Annotated[
        Path, typer.Option(help="Python with face_recognition installed (make .bench-venv).")
    ] = Path(".bench-venv/bin/python"),
    match_sizes: Annotated[str, typer.Option(help="Gallery sizes for the matching test.")] = (
        "1000,10000,100000,1000000"
    ),
    ann_sizes: Annotated[str, typer.Option(help="Gallery sizes for the approximate index; empty skips.")] = (
        "100000,1000000"
    ),
    store_writes: Annotated[
        int, typer.Option(min=0, max=100_000, help="Sightings written one by one.")
    ] = 300,
    store_rows: Annotated[
        int, typer.Option(min=0, max=5_000_000, help="Sightings stored for the case-search test; 0 skips it.")
    ] = 1_000_000,
) -> None:
    """Seconds per stage and frames/s on the shared clips, the peer on the same frames in
    the same run, and 1:N matching latency for growing galleries."""
    base = runtime(ctx)
    folder = (data or default_data()).resolve()
    fps = detect_fps or base.settings.source.detect_fps
    peer_script = folder.parent / "bench" / "baseline_face_recognition.py"
    with_peer = peer_python.exists() and peer_script.is_file()
    if not with_peer:
        err.print(
            f"[yellow]peer not run:[/] {peer_python} or {peer_script} missing (make .bench-venv/.installed)"
        )
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-") as tmp:
        rt = build_runtime(
            base.settings.model_copy(
                update={"data_dir": Path(tmp), "database_url": "", "audit": AuditSettings()}
            )
        )
        try:
            known = _enrol_known(rt, folder)
            clips = []
            with err.status("measuring…") as status:
                for rel in CLIPS:
                    clip = folder / rel
                    status.update(f"citywatch on {clip.name}")
                    result = pipeline_speed(rt, clip, detect_fps=fps, max_frames=max_frames)
                    if with_peer:
                        status.update(f"peer on {clip.name}")
                        result.peer = peer_speed(str(peer_python), peer_script, clip, known, result.frames)
                        every = max(1, round(result.frames / max(result.frames_detected, 1)))
                        result.peer_sampled = peer_speed(
                            str(peer_python), peer_script, clip, known, result.frames, every=every
                        )
                        result.peer_sampled["every"] = every
                    clips.append(result)
                status.update("matching")
                matching = matching_speed(_sizes(match_sizes))
                status.update("approximate matching")
                approximate = approximate_matching_speed(_sizes(ann_sizes)) if ann_sizes.strip() else []
                status.update("store")
                store_result = _store_speed(
                    rt,
                    store_writes,
                    store_rows,
                    lambda stage, done, total: status.update(f"{stage}: {done:,} of {total:,}"),
                )
        finally:
            rt.close()
    meta = {**_meta(), "detect_fps": fps, "max_frames": max_frames}
    report = speed_json(clips, matching, meta)
    report["store"] = asdict(store_result) if store_result else None
    report["approximate"] = [asdict(a) for a in approximate]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "speed.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "speed.md").write_text(speed_markdown(report))
    for c in clips:
        ratio = (
            f", {c.ratio:.1f}x the peer ({c.ratio_sampled or 0:.1f}x at the same sampling)" if c.ratio else ""
        )
        out.print(f"{c.clip}: {c.frames_per_s:.1f} frames/s{ratio}")
    out.print(f"report in {out_dir / 'speed.md'}")


@bench_app.command("live")
@requires(Permission.BENCHMARK)
def live(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option(help="Data folder with the clip (default ../shared/data).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for live.md and live.json.")] = Path(
        "bench-results/live"
    ),
    streams: Annotated[int, typer.Option(min=1, max=64, help="Cameras replayed at once.")] = 4,
    seconds: Annotated[float, typer.Option(min=5, max=24 * 3600, help="How long to run.")] = 60.0,
    detect_fps: Annotated[float, typer.Option(min=0.1, max=60, help="Detection rate per camera.")] = 5.0,
) -> None:
    """Replay the Hamilton clip as several live cameras in real time: frames dropped and memory."""
    base = runtime(ctx)
    folder = (data or default_data()).resolve()
    clip = folder / CLIPS[0]
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-") as tmp:
        rt = build_runtime(
            base.settings.model_copy(
                update={"data_dir": Path(tmp), "database_url": "", "audit": AuditSettings()}
            )
        )
        try:
            _enrol_known(rt, folder)
            with err.status("running…") as status:

                def tick(now: float) -> None:
                    status.update(f"{streams} cameras live: {now:.0f} of {seconds:.0f} s, {rss_mb():.0f} MB")

                report = live_load(
                    rt, clip, streams=streams, seconds=seconds, detect_fps=detect_fps, tick=tick
                )
        finally:
            rt.close()
    meta = _meta()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "live.json").write_text(json.dumps({**meta, **report.as_json()}, indent=2) + "\n")
    (out_dir / "live.md").write_text(live_markdown(report, meta))
    out.print(
        f"{streams} cameras for {seconds:.0f} s: {report.missed_pct:.2f} % of the frames due "
        "not analysed in time, "
        f"memory {report.rss_mb_after_warm_up:.0f} → {report.rss_mb_end:.0f} MB "
        f"(peak {report.peak_rss_mb:.0f} MB); report in {out_dir / 'live.md'}"
    )


@bench_app.command("api")
@requires(Permission.BENCHMARK)
def api(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for api.md and api.json.")] = Path(
        "bench-results/api"
    ),
    sightings: Annotated[int, typer.Option(min=1, max=10_000_000, help="Sightings stored.")] = 100_000,
    alerts: Annotated[int, typer.Option(min=1, max=1_000_000, help="Alerts among them.")] = 10_000,
    audit: Annotated[int, typer.Option(min=1, max=10_000_000, help="Audit records chained.")] = 100_000,
    cameras: Annotated[int, typer.Option(min=1, max=10_000, help="Cameras they are spread over.")] = 50,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days they are spread over.")] = 30,
    requests: Annotated[int, typer.Option(min=1, max=100_000, help="Requests per route.")] = 200,
    feed_alerts: Annotated[
        int, typer.Option(min=1, max=10_000, help="Alerts timed through the live feed.")
    ] = 50,
    search_photo: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="A photo of one face (JPEG or PNG) to time the case search with; without it, "
            "the search is not timed.",
        ),
    ] = None,
    search_requests: Annotated[
        int, typer.Option(min=1, max=1000, help="Case searches timed (each runs the face models).")
    ] = 20,
) -> None:
    """Fill a throwaway database to size, then time the list routes, console pages and the case
    search (p50/p95/p99) over HTTP against the real server, and the live alert feed's latency.
    Any timed call that does not succeed stops the bench with an error."""
    from citywatch.web.api.server import ApiServer  # noqa: PLC0415
    from citywatch.web.app import create_app  # noqa: PLC0415 (FastAPI only for this command)

    base = runtime(ctx)
    for chatty in ("httpx", "citywatch.web.api.access"):  # a line per timed request otherwise
        logging.getLogger(chatty).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-") as tmp:
        settings = base.settings.model_copy(
            update={
                "data_dir": Path(tmp),
                "database_url": "",
                "audit": AuditSettings(),  # a throwaway witness beside the throwaway database
                "cameras": [],
                "api": ApiSettings(enabled=True, host="127.0.0.1", port=0, shutdown_s=1),
            }
        )
        rt = build_runtime(settings)
        server = None
        try:
            with err.status("filling…") as status:
                progress = api_bench.on_progress(status.update)
                filled = api_bench.fill(
                    rt,
                    sightings=sightings,
                    alerts=alerts,
                    audit=audit,
                    cameras=cameras,
                    days=days,
                    progress=progress,
                )
                tokens = api_bench.sign_in_users(rt)
                server = ApiServer(create_app(rt), settings.api, rt.feed)
                server.start()
                report = api_bench.ApiReport(filled)
                routes = api_bench.routes_to_time(rt, console=True)
                report.routes = api_bench.time_routes(
                    server.url, routes, tokens, requests=requests, progress=progress
                )
                if search_photo is not None:
                    status.update("timing the case search…")
                    fields = api_bench.prepare_search(rt, ["cam-0000"])  # the busiest camera
                    report.routes.append(
                        api_bench.time_search(
                            server.url,
                            tokens["investigator"],
                            search_photo.read_bytes(),
                            fields,
                            requests=search_requests,
                            filename=search_photo.name,
                        )
                    )
                report.feed_ms = api_bench.feed_latency(
                    rt, server.url, tokens["supervisor"], alerts=feed_alerts, progress=progress
                )
        finally:
            if server is not None:
                server.stop()
            rt.close()
    meta = _meta()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "api.json").write_text(json.dumps({**meta, **report.as_json()}, indent=2) + "\n")
    (out_dir / "api.md").write_text(api_bench.api_markdown(report, meta))
    for r in report.routes:
        out.print(
            f"{r.name}: p50 {r.p50_ms:.1f} ms, p95 {r.p95_ms:.1f} ms, p99 {r.p99_ms:.1f} ms ({r.status})"
        )
    if search_photo is None:
        out.print("case search: not timed (no --search-photo)")
    feed = report.as_json()["feed"]
    out.print(
        f"live feed: p50 {feed['p50_ms']:.1f} ms, p95 {feed['p95_ms']:.1f} ms; report in {out_dir / 'api.md'}"
    )


@bench_app.command("stall")
@requires(Permission.BENCHMARK)
def stall(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for stall.md and stall.json.")] = Path(
        "bench-results/stall"
    ),
    seconds: Annotated[float, typer.Option(min=1, max=3600, help="How long the attacks run.")] = 20.0,
    attackers: Annotated[int, typer.Option(min=1, max=64, help="Clients firing each attack.")] = 2,
    parts: Annotated[int, typer.Option(min=1, max=1_000_000, help="Parts of the many-parts form.")] = 180_000,
) -> None:
    """Fire issue 13's stalling uploads at the real server (a small PNG declaring 20000x20000
    pixels, a form of 180,000 tiny parts; both to the public form, from `--attackers` clients
    each, again and again for `--seconds`) and time `/healthz` meanwhile (p50/p95/max)."""
    from citywatch.bench import stall as stall_bench  # noqa: PLC0415
    from citywatch.web.api.server import ApiServer  # noqa: PLC0415
    from citywatch.web.app import create_app  # noqa: PLC0415 (FastAPI only for this command)

    base = runtime(ctx)
    for chatty in ("httpx", "citywatch.web.api.access"):  # a line per request otherwise
        logging.getLogger(chatty).setLevel(logging.WARNING)
    content_type, form = stall_bench.many_parts(parts)
    api = ApiSettings(
        enabled=True,
        host="127.0.0.1",
        port=0,
        shutdown_s=1,
        # every attack reaches the parser and the decoder (not the per-address limit), and the
        # issue's 180,000-part body (9.5 MB) fits the form's size limit
        public_requests_per_hour=10_000,
        public_photo_max_mb=max(8.0, len(form) / 1e6 + 1),
    )
    png = stall_bench.huge_png(20_000, 20_000)
    attacks = [
        stall_bench.Attack("PNG declaring 20000x20000", "/api/public/requests", *stall_bench.photo_form(png)),
        stall_bench.Attack(f"form of {parts} parts", "/api/public/requests", content_type, form),
    ]
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-") as tmp:
        settings = base.settings.model_copy(
            update={"data_dir": Path(tmp), "database_url": "", "cameras": [], "api": api}
        )
        rt = build_runtime(settings)
        server = ApiServer(create_app(rt), settings.api, rt.feed)
        try:
            server.start()
            with err.status(f"attacking for {seconds:g} s…"):
                report = stall_bench.stall(server.url, attacks, seconds=seconds, attackers=attackers)
        finally:
            server.stop()
            rt.close()
    meta = _meta()
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
    h = report.health()
    out.print(
        f"/healthz while attacked: p50 {h['p50_ms']:.1f} ms, p95 {h['p95_ms']:.1f} ms, "
        f"p99 {h['p99_ms']:.1f} ms, max {h['max_ms']:.1f} ms, {h['over_100ms']:.0f} over 100 ms "
        f"({h['requests']:.0f} requests, {report.health_failed} failed); report in {out_dir / 'stall.md'}"
    )


def _meta() -> dict[str, str]:
    return {
        "command": "citywatch " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }


def _store_speed(rt: Runtime, writes: int, rows: int, progress: ProgressCallback) -> StoreSpeed | None:
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


def _enrol_known(rt: Runtime, folder: Path) -> dict[str, Path]:
    """Enrol the two people of the Hamilton example, so that matching and storage run too."""
    known = {name: folder / rel for name, rel in KNOWN.items()}
    service = Enrolment(
        store=rt.watchlists, detector=rt.detector, embedder=rt.embedder, quality=rt.settings.quality
    )
    for name, path in known.items():
        service.enroll(
            name=name,
            images=[path],
            watchlist="bench",
            source="benchmark",
            legal_basis="benchmark",
            proposer=None,  # a throwaway store: nobody to approve, nothing kept
        )
    return known
