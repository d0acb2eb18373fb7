"""The `citywatch` command: builds the Typer app and maps errors to messages and exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from citywatch import __version__
from citywatch.cli import (
    audit,
    bench,
    cameras,
    changes,
    city,
    delivery,
    footage,
    governance,
    orders,
    people,
    records,
    requests,
    retention,
    sim,
    transparency,
    users,
    watching,
)
from citywatch.cli.context import CliContext, config_path, runtime
from citywatch.cli.output import err, out, setup_logging
from citywatch.cli.permissions import requires
from citywatch.config.load import DEFAULT_CONFIG
from citywatch.config.template import write_default
from citywatch.domain.access import Permission
from citywatch.domain.errors import CitywatchError, InvalidInput, NotFound, PermissionDenied, Unavailable
from citywatch.vision.model_files import YUNET, install, is_installed

EXIT_CODES: list[tuple[type[CitywatchError], int]] = [
    (InvalidInput, 2),
    (NotFound, 3),
    (Unavailable, 4),
    (PermissionDenied, 5),
]

app = typer.Typer(
    name="citywatch",
    help="City-scale face recognition, accountable by design.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Model files (the YuNet detector).", no_args_is_help=True)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Configuration file (default: ./citywatch.yaml).")
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            "-u",
            help="Sign in as this user (password from $CITYWATCH_PASSWORD, else asked); "
            "$CITYWATCH_TOKEN signs in by API token instead.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    setup_logging(verbose)
    obj = CliContext(config_path(config), user)
    ctx.obj = obj
    ctx.call_on_close(obj.close)


@app.command()
@requires(Permission.PUBLIC)
def version() -> None:
    """Print the version."""
    out.print(__version__)


@app.command()
@requires(Permission.PUBLIC)
def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = DEFAULT_CONFIG,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented default configuration file."""
    try:
        write_default(path, overwrite=force)
    except FileExistsError:
        raise InvalidInput(f"{path} already exists (use --force to overwrite)") from None
    out.print(f"wrote {path}")


@models_app.command("fetch")
@requires(Permission.SYSTEM_MANAGE)
def models_fetch(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(help="Download from here instead of opencv_zoo.")] = None,
    from_file: Annotated[
        Path | None, typer.Option(help="Install a local copy instead of downloading.")
    ] = None,
) -> None:
    """Download the YuNet detector into the models folder and check its SHA-256."""
    models_dir = runtime(ctx).settings.models_dir
    if is_installed(YUNET, models_dir) and url is None and from_file is None:
        out.print(f"{YUNET.name} already in {models_dir} (SHA-256 checked)")
        return
    with err.status(f"fetching {YUNET.name}…"):
        path = install(YUNET, models_dir, url=url, from_file=from_file)
    out.print(f"installed {path} (SHA-256 {YUNET.sha256[:16]}…, licence {YUNET.licence})")


@models_app.command("check")
@requires(Permission.SYSTEM_MANAGE)
def models_check(ctx: typer.Context) -> None:
    """Say which detector will run and why."""
    models_dir = runtime(ctx).settings.models_dir
    if is_installed(YUNET, models_dir):
        out.print(f"YuNet: {models_dir / YUNET.name} (SHA-256 ok)")
    else:
        out.print(f"YuNet: missing or wrong in {models_dir}; the dlib HOG fallback will run")
        raise typer.Exit(1)


app.add_typer(models_app, name="models")
app.command()(people.enroll)
app.add_typer(people.persons_app, name="persons")
app.add_typer(people.watchlists_app, name="watchlists")
app.add_typer(changes.changes_app, name="changes")
app.command()(watching.watch)
app.command()(watching.run)
app.command()(city.worker)
app.command()(city.store)
app.command()(city.serve)
app.command()(sim.sim)
app.command()(records.search)
app.command()(records.verify)
app.add_typer(records.sightings_app, name="sightings")
app.add_typer(records.alerts_app, name="alerts")
records.alerts_app.command("test-sink")(delivery.test_sink)
records.alerts_app.command("outbox")(delivery.outbox)
records.alerts_app.command("replay")(delivery.replay)
app.command()(footage.clip)
app.add_typer(bench.bench_app, name="bench")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(cameras.cameras_app, name="cameras")
app.add_typer(governance.zones_app, name="zones")
app.add_typer(governance.events_app, name="events")
app.add_typer(governance.policy_app, name="policy")
app.add_typer(governance.auth_app, name="authorisations")
app.command()(retention.purge)
app.add_typer(retention.holds_app, name="holds")
app.command()(retention.receipts)
app.add_typer(requests.request_app, name="request")
app.add_typer(orders.orders_app, name="order")
app.add_typer(requests.export_app, name="export")
app.add_typer(users.users_app, name="user")
app.command()(transparency.transparency)


def explain(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and message for an error citywatch expects; None for anything else
    (a bug, which keeps its traceback)."""
    if isinstance(exc, ValidationError):  # an option that builds a setting (e.g. --camera-id)
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return 2, f"invalid value: {problems}"
    if isinstance(exc, CitywatchError):
        return next((c for kind, c in EXIT_CODES if isinstance(exc, kind)), 1), str(exc)
    return None


def run() -> None:
    """Console entry point: no traceback for errors citywatch expects."""
    try:
        app()
    except (ValidationError, CitywatchError) as exc:
        explained = explain(exc)
        assert explained is not None
        code, message = explained
        err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
        sys.exit(code)
