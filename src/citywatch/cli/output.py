"""The CLI's output layer: Rich for people, one JSON object per line for machines."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from citywatch.cli.logs import JsonFormatter

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False, markup=False)],
        force=True,
    )
    for noisy in ("alembic", "sqlalchemy", "libav", "faiss", "faiss.loader", "botocore", "boto3", "nats"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def use_log_format(log_format: str) -> None:
    """Switch the log to the configured format once the configuration is read (`json`: one
    object per line on stderr; `text`: as `setup_logging` left it), at the same level."""
    if log_format != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    logging.basicConfig(level=root.level, handlers=[handler], force=True)


def plain(value: Any) -> Any:
    """JSON-ready form of dataclasses, sets, datetimes, enums and paths."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):  # e.g. a hold's cameras: in a stable order
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


def emit_json(kind: str, payload: Any) -> None:
    line = {"type": kind, **plain(payload)}
    sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit_line(line: str) -> None:
    """One line on stdout exactly as given (no markup, no wrapping): for machine formats."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, title_justify="left", show_header=any(columns))
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    out.print(t)


def when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A bar on stderr for long work; yields `update(done, total)`."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def stage_bars() -> Iterator[Callable[[str, int, int], None]]:
    """Bars on stderr for long work in stages, one per stage as it starts; yields
    `progress(stage, done, total)` (`citywatch.bench.progress.Progress`)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress
