"""How long-running measurements report progress."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
"""(stage, done, total), called as work advances."""


def quiet(stage: str, done: int, total: int) -> None:
    """A progress callback that reports nothing."""


def on_progress(update: Callable[[str], None]) -> Progress:
    """A Progress callback that writes `stage: done of total` through `update`."""

    def progress(stage: str, done: int, total: int) -> None:
        update(f"{stage}: {done:,} of {total:,}")

    return progress
