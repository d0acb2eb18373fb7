"""Running the real `citywatch` command as a user would: its Typer app with the entry
point's error mapping, in this process (each call starting Python and importing the models'
libraries costs seconds), or in a subprocess where a test needs one (`subprocess=True`, or
CITYWATCH_TEST_SUBPROCESS=1 for all)."""

from __future__ import annotations

import json
import os
import subprocess as _subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from citywatch.cli.main import app, explain
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.policy import AuthorisationStatus
from citywatch.governance.records import NewAuthorisation
from citywatch.runtime.build import build_runtime
from tests.databases import stray_settings


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


SUBPROCESS = os.environ.get("CITYWATCH_TEST_SUBPROCESS") == "1"


def cli_env(workdir: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in stray_settings()}
    env.update(
        CITYWATCH_DATA_DIR=str(workdir / "data"),
        CITYWATCH_MODELS_DIR=str(data / "models"),
        COLUMNS="200",
        # a stream that cannot be reached is declared dead quickly in tests
        CITYWATCH_SOURCE__RECONNECT_ATTEMPTS="2",
        CITYWATCH_SOURCE__RECONNECT_INITIAL_S="0.1",
        CITYWATCH_SOURCE__OPEN_TIMEOUT_S="2",
    )
    return env


def citywatch(
    workdir: Path,
    data: Path,
    *args: str,
    timeout: float = 240,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    subprocess: bool = SUBPROCESS,
) -> Result:
    """Run `citywatch args…` in `workdir`; `env` adds to (or overrides) the test environment."""
    if not subprocess:
        return _in_process(workdir, args, {**cli_env(workdir, data), **(env or {})}, stdin)
    proc = _subprocess.run(
        [sys.executable, "-m", "citywatch", *args],
        cwd=workdir,
        env={**cli_env(workdir, data), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Exit code and output (stdout and stderr together) of `citywatch args…` in this process,
    in the current folder and environment (plus `env`), as the entry point would end it."""
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        explained = explain(result.exception)
        if explained is None:
            raise result.exception
        code, message = explained
        return code, f"{result.output}error: {message}"
    return result.exit_code, result.output


def _in_process(workdir: Path, args: tuple[str, ...], env: dict[str, str], stdin: str | None) -> Result:
    """The command in this process, in `workdir`, with exactly `env`'s CITYWATCH_ variables;
    an error citywatch expects ends it as the entry point would (message, exit code)."""
    changes: dict[str, str | None] = {k: None for k in stray_settings()}
    changes.update(env)
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        result = CliRunner().invoke(app, list(args), input=stdin, env=changes, catch_exceptions=True)
    finally:
        os.chdir(previous)
    code, stderr = result.exit_code, result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        explained = explain(result.exception)
        if explained is None:  # a bug: let the test show its traceback
            raise result.exception
        code, message = explained
        stderr += f"error: {message}\n"
    return Result(code, result.stdout, stderr)


SECOND_PERSON = Actor("second-person@test", "supervisor")
FIRST_PERSON = Actor("first-person@test", "investigator")
"""Approves what the tests enrol: the CLI acts as the local shell user, who cannot approve
their own changes (two-person rule)."""


def enroll(workdir: Path, data: Path, name: str, image: Path, *, approve: bool = True) -> Result:
    """Enrol through the CLI, then (unless `approve` is False) have a second person approve it."""
    result = citywatch(
        workdir,
        data,
        "enroll",
        str(image),
        "--name",
        name,
        "--source",
        "face_recognition example image",
        "--legal-basis",
        "test fixture",
    )
    if approve and result.code == 0:
        approve_pending(workdir)
    return result


def approve_pending(workdir: Path, approver: Actor = SECOND_PERSON) -> list[int]:
    """Approve every pending change in the data folder as `approver`; returns their ids."""
    rt = build_runtime(Settings(data_dir=workdir / "data"))
    try:
        return [rt.changes.approve(c.id, approver).id for c in rt.changes.list_changes()]
    finally:
        rt.close()


def authorise(
    workdir: Path,
    cameras: list[str],
    *,
    reference: str = "AUTH-TEST",
    watchlist: str | None = "default",
    events: tuple[str, ...] = (),
) -> None:
    """Record an authorisation for `cameras` bound to `watchlist`, requested by one person and
    approved by a second (in process, as the CLI tests' fixture; the CLI path has its own test)."""
    rt = build_runtime(Settings(data_dir=workdir / "data"))
    try:
        now = datetime.now(UTC)
        rt.governance.request(
            NewAuthorisation(
                reference=reference,
                issuer="test court",
                legal_basis="test warrant",
                objective="integration test",
                cameras=cameras,
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=1),
                events=events,
            ),
            by=FIRST_PERSON,
            urgent_deadline=timedelta(hours=24),
        )
        if watchlist is not None:
            rt.governance.bind_watchlist(watchlist, reference, by=FIRST_PERSON)
        rt.governance.decide(reference, AuthorisationStatus.APPROVED, by=SECOND_PERSON)
    finally:
        rt.close()
