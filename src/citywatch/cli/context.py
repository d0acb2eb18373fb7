"""What every command shares: the configuration path, the runtime built from it, and who acts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import typer

from citywatch.cli.output import use_log_format
from citywatch.config.load import DEFAULT_CONFIG, load
from citywatch.domain.errors import InvalidInput
from citywatch.runtime.build import Runtime, build_runtime

TOKEN_ENV = "CITYWATCH_TOKEN"  # noqa: S105 (names of variables, not secrets)
PASSWORD_ENV = "CITYWATCH_PASSWORD"  # noqa: S105


@dataclass
class CliContext:
    config_path: Path | None
    user: str | None = None
    """--user: sign in by password as this user."""
    _runtime: Runtime | None = field(default=None, init=False)

    def runtime(self) -> Runtime:
        """The runtime, acting for whoever signed in (see `sign_in`)."""
        if self._runtime is None:
            settings = load(self.config_path)
            use_log_format(settings.logging.format)
            rt = build_runtime(settings, config_path=self.config_path)
            try:
                sign_in(rt, self.user)
            except BaseException:
                rt.close()
                raise
            self._runtime = rt
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


def sign_in(rt: Runtime, user: str | None) -> None:
    """Who acts: the holder of $CITYWATCH_TOKEN, else `user` signed in by password
    ($CITYWATCH_PASSWORD or a prompt), else the local shell user the runtime starts with.
    A refused sign-in raises PermissionDenied and is audited."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token and user is not None:
        raise InvalidInput(f"give either ${TOKEN_ENV} or --user, not both")
    if token:
        rt.actor = rt.users.actor_for_token(token)
    elif user is not None:
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            password = typer.prompt(f"password for {user}", hide_input=True, err=True)
        rt.actor = rt.users.login(user, password)


def runtime(ctx: typer.Context) -> Runtime:
    obj = ctx.find_object(CliContext)
    if obj is None:  # only when a command is invoked outside the app
        raise RuntimeError("citywatch CLI context missing")
    return obj.runtime()
