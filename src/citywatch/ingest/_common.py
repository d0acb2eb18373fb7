"""Helpers shared by the sources: bounded health warnings."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from citywatch.domain.frames import Frame
from citywatch.domain.ports import SourceHealth, SourceState

MAX_WARNINGS = 100
"""A source that keeps misbehaving must not grow its health record without bound."""


def add_warning(health: SourceHealth, message: str, logger: logging.Logger) -> None:
    """Log `message` and record it in `health.warnings`, keeping at most `MAX_WARNINGS` entries."""
    logger.warning("%s", message, stacklevel=2)
    if len(health.warnings) < MAX_WARNINGS - 1:
        health.warnings.append(message)
    elif len(health.warnings) == MAX_WARNINGS - 1:
        health.warnings.append("further warnings suppressed (see the log)")


def tracked(health: SourceHealth, frames: Iterator[Frame]) -> Iterator[Frame]:
    """Yield `frames`, keeping `health.state` true: ENDED when the consumer stops early,
    FAILED (with the error) when the source raises."""
    try:
        yield from frames
    except GeneratorExit:
        health.state = SourceState.ENDED
        raise
    except Exception as exc:
        health.state = SourceState.FAILED
        health.last_error = health.last_error or str(exc)
        raise
