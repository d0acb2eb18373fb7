"""What every command shares: the configuration path and the runtime built from it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import typer

from citywatch.config.load import DEFAULT_CONFIG, load
from citywatch.runtime.build import Runtime, build_runtime


@dataclass
class CliContext:
    config_path: Path | None
    _runtime: Runtime | None = field(default=None, init=False)

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = build_runtime(load(self.config_path))
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


def config_path(explicit: Path | None) -> Path | None:
    """--config, else $CITYWATCH_CONFIG, else ./citywatch.yaml when present, else defaults."""
    if explicit is not None:
        return explicit
    if env := os.environ.get("CITYWATCH_CONFIG"):
        return Path(env)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def runtime(ctx: typer.Context) -> Runtime:
    obj = ctx.find_object(CliContext)
    if obj is None:  # only when a command is invoked outside the app
        raise RuntimeError("citywatch CLI context missing")
    return obj.runtime()
