"""`citywatch bench …`: measure the configured pipeline and write reports."""

from __future__ import annotations

import json
import logging
import os
import platform
import shlex
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from citywatch.bench.accuracy import run_accuracy
from citywatch.bench.api_report import ApiReport, write_api_report
from citywatch.bench.api_run import ApiSize, measure_api
from citywatch.bench.live import live_load, live_markdown, rss_mb
from citywatch.bench.progress import on_progress
from citywatch.bench.report import write_accuracy
from citywatch.bench.speed import ClipSpeed, approximate_matching_speed, matching_speed, speed_json
from citywatch.bench.speed_run import clip_speeds, store_speed, write_speed
from citywatch.cli.context import runtime
from citywatch.cli.output import err, out, stage_bars
from citywatch.cli.permissions import requires
from citywatch.config.api import ApiSettings
from citywatch.config.audit import AuditSettings
from citywatch.config.settings import Settings
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
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
    with stage_bars() as progress:
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
    peer = _peer(peer_python, folder)
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-") as tmp:
        rt = _throwaway_runtime(base.settings, Path(tmp))
        try:
            known = _enrol_known(rt, folder)
            with err.status("measuring…") as status:
                clips = clip_speeds(
                    rt,
                    [folder / rel for rel in CLIPS],
                    detect_fps=fps,
                    max_frames=max_frames,
                    known=known,
                    peer=peer,
                    status=status.update,
                )
                status.update("matching")
                matching = matching_speed(_sizes(match_sizes))
                status.update("approximate matching")
                approximate = approximate_matching_speed(_sizes(ann_sizes)) if ann_sizes.strip() else []
                status.update("store")
                store_result = store_speed(rt, store_writes, store_rows, on_progress(status.update))
        finally:
            rt.close()
    meta = {**run_meta(), "detect_fps": fps, "max_frames": max_frames}
    write_speed(out_dir, speed_json(clips, matching, meta), store_result, approximate)
    _print_speed(clips, out_dir)


def _print_speed(clips: list[ClipSpeed], out_dir: Path) -> None:
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
        rt = _throwaway_runtime(base.settings, Path(tmp))
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
    meta = run_meta()
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

    size = ApiSize(sightings, alerts, audit, cameras, days, requests, feed_alerts, search_requests)
    base = runtime(ctx)
    _quiet_http_logs()
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-") as tmp:
        settings = _api_settings(base.settings, Path(tmp))
        rt = build_runtime(settings)
        servers: list[ApiServer] = []

        def serve() -> str:
            servers.append(ApiServer(create_app(rt), settings.api, rt.feed))
            servers[0].start()
            return servers[0].url

        try:
            with err.status("filling…") as status:
                report = measure_api(rt, serve, size, search_photo=search_photo, status=status.update)
        finally:
            for server in servers:
                server.stop()
            rt.close()
    meta = run_meta()
    write_api_report(report, meta, out_dir)
    _print_api(report, out_dir, searched=search_photo is not None)


def _api_settings(settings: Settings, tmp: Path) -> Settings:
    """`settings` for a throwaway database in `tmp`, served on a free port of the loopback."""
    return settings.model_copy(
        update={
            "data_dir": tmp,
            "database_url": "",
            "audit": AuditSettings(),  # a throwaway witness beside the throwaway database
            "cameras": [],
            "api": ApiSettings(enabled=True, host="127.0.0.1", port=0, shutdown_s=1),
        }
    )


def _print_api(report: ApiReport, out_dir: Path, *, searched: bool) -> None:
    for r in report.routes:
        out.print(
            f"{r.name}: p50 {r.p50_ms:.1f} ms, p95 {r.p95_ms:.1f} ms, p99 {r.p99_ms:.1f} ms ({r.status})"
        )
    if not searched:
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
    _quiet_http_logs()
    attacks = stall_bench.issue_13_attacks(parts)
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-") as tmp:
        settings = base.settings.model_copy(
            update={
                "data_dir": Path(tmp),
                "database_url": "",
                "cameras": [],
                "api": _stall_api(form_bytes=len(attacks[-1].body)),
            }
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
    stall_bench.write_stall(out_dir, report, attacks, run_meta())
    h = report.health()
    out.print(
        f"/healthz while attacked: p50 {h['p50_ms']:.1f} ms, p95 {h['p95_ms']:.1f} ms, "
        f"p99 {h['p99_ms']:.1f} ms, max {h['max_ms']:.1f} ms, {h['over_100ms']:.0f} over 100 ms "
        f"({h['requests']:.0f} requests, {report.health_failed} failed); report in {out_dir / 'stall.md'}"
    )


def _stall_api(form_bytes: int) -> ApiSettings:
    """The API's settings for the stall bench: a free port of the loopback, and limits that let
    every attack through to the parser and the decoder."""
    return ApiSettings(
        enabled=True,
        host="127.0.0.1",
        port=0,
        shutdown_s=1,
        # every attack reaches the parser and the decoder (not the per-address limit), and the
        # issue's 180,000-part body (9.5 MB) fits the form's size limit
        public_requests_per_hour=10_000,
        public_photo_max_mb=max(8.0, form_bytes / 1e6 + 1),
    )


def _quiet_http_logs() -> None:
    """Only warnings from httpx and the access log: a line per (timed) request otherwise."""
    for chatty in ("httpx", "citywatch.web.api.access"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _throwaway_runtime(settings: Settings, tmp: Path) -> Runtime:
    """A runtime like `settings`' on a throwaway database, witness and data folder in `tmp`."""
    return build_runtime(
        settings.model_copy(update={"data_dir": tmp, "database_url": "", "audit": AuditSettings()})
    )


def _peer(python: Path, folder: Path) -> tuple[Path, Path] | None:
    """The peer's Python and script (`bench/` beside the data `folder`), or None (and a warning)
    when either is missing."""
    script = folder.parent / "bench" / "baseline_face_recognition.py"
    if python.exists() and script.is_file():
        return python, script
    err.print(f"[yellow]peer not run:[/] {python} or {script} missing (make .bench-venv/.installed)")
    return None


def run_meta() -> dict[str, str]:
    return {
        "command": "citywatch " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }


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
