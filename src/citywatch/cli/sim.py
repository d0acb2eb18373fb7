"""`citywatch sim`: the simulated city on this machine, and its report (docs/scale/scale.md)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from citywatch.cli.bench import default_data, run_meta
from citywatch.cli.context import runtime
from citywatch.cli.output import out, stage_bars
from citywatch.cli.permissions import requires
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.sim.report import write_report
from citywatch.sim.run import SimOptions, simulate

PARTS = ("city", "workers", "stores")
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@requires(Permission.BENCHMARK)
def sim(
    ctx: typer.Context,
    cameras: Annotated[int, typer.Option(help="Virtual cameras.", min=1, max=100_000)] = 1000,
    real_cameras: Annotated[int, typer.Option(help="Cameras replaying the shared clip.", min=0, max=16)] = 4,
    faces_per_s: Annotated[
        float, typer.Option(help="Faces per second at each virtual camera.", min=0.001)
    ] = 0.1,
    enrolled_share: Annotated[
        float,
        typer.Option(help="Share of faces of enrolled people (the rest strangers).", min=0.001, max=0.999),
    ] = 0.02,
    duration: Annotated[float, typer.Option(help="Seconds the city part watches.", min=5)] = 60.0,
    gallery: Annotated[
        int, typer.Option(help="Templates in force (real people, filled up).", min=1)
    ] = 10_000,
    flat_out_rate: Annotated[
        float, typer.Option(help="Faces/s per virtual camera when the workers run flat out.", min=0.1)
    ] = 20.0,
    flat_out_duration: Annotated[
        float, typer.Option(help="Seconds each flat-out run is measured.", min=5)
    ] = 20.0,
    store_sightings: Annotated[
        int, typer.Option(help="Sightings waiting on the bus for the store runs.", min=100)
    ] = 20_000,
    parts: Annotated[str, typer.Option(help="Which parts to run: city,workers,stores.")] = ",".join(PARTS),
    database_server: Annotated[
        str, typer.Option(help="PostgreSQL server (a database of the simulation's own is made there).")
    ] = SERVER,
    data: Annotated[Path | None, typer.Option(help="Shared data folder (default ../shared/data).")] = None,
    work: Annotated[Path, typer.Option(help="Working folder (logs, the bus's files).")] = Path("var/sim"),
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for scale.md, .json and plots.")] = Path(
        "bench-results/scale"
    ),
) -> None:
    """A simulated city on this machine (real worker, store and serve processes; real and virtual
    cameras): alert latency, rates, bus backlog, memory, speed-up (docs/scale/scale.md)."""
    options = SimOptions(
        virtual=cameras,
        real=real_cameras,
        faces_per_s=faces_per_s,
        enrolled_share=enrolled_share,
        duration_s=duration,
        gallery=gallery,
        flat_out_faces_per_s=flat_out_rate,
        flat_out_s=flat_out_duration,
        store_sightings=store_sightings,
        parts=_parts(parts),
    )
    _exit_cleanly_on_sigterm()
    with stage_bars() as progress:
        results = simulate(
            options,
            work=work.resolve(),
            data=(data or default_data()).resolve(),
            models_dir=runtime(ctx).settings.models_dir,
            server=database_server,
            progress=progress,
        )
    files = write_report(results, out_dir, run_meta())
    out.print(f"report in {files['markdown']}")


def _exit_cleanly_on_sigterm() -> None:
    """Stopped by SIGTERM as by Ctrl-C: its processes stopped and its database dropped on the way out."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def _parts(text: str) -> tuple[str, ...]:
    chosen = tuple(p.strip() for p in text.split(",") if p.strip())
    if not chosen or set(chosen) - set(PARTS):
        raise InvalidInput(f"--parts: choose among {', '.join(PARTS)}")
    return chosen
