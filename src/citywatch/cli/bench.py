"""`citywatch bench …`: measure the configured pipeline and write reports."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from citywatch.bench.accuracy import run_accuracy
from citywatch.bench.report import write_accuracy
from citywatch.cli.context import runtime
from citywatch.cli.output import err, out
from citywatch.domain.errors import InvalidInput

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
            threshold=rt.settings.matching.verify_threshold,
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
