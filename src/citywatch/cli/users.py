"""`citywatch user …`: accounts, roles, camera scopes, passwords, API tokens, and who am I."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from citywatch.audit.two_person import same_person
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, err, out, table, when
from citywatch.cli.permissions import require_permission, requires
from citywatch.domain.access import ACCOUNT_ROLES, Permission
from citywatch.domain.errors import InvalidInput
from citywatch.users.records import TokenInfo, UserInfo

users_app = typer.Typer(help="User accounts, roles, camera scopes and API tokens.", no_args_is_help=True)
tokens_app = typer.Typer(help="Issue, list and revoke API tokens.", no_args_is_help=True)
users_app.add_typer(tokens_app, name="token")

ROLE_HELP = f"One of {', '.join(ACCOUNT_ROLES)}."
CAMERA_HELP = "Limit the user to this camera id (repeat for several); without any: every camera."


def _scope(cameras: tuple[str, ...] | frozenset[str] | None) -> str:
    return "all" if cameras is None else ", ".join(sorted(cameras))


def _users_table(users: list[UserInfo]) -> None:
    table(
        f"{len(users)} user(s)",
        ["id", "name", "role", "cameras", "password", "tokens", "active", "created by", "created"],
        [
            [
                u.id,
                u.name,
                u.role,
                _scope(u.cameras),
                "yes" if u.has_password else "no",
                u.tokens,
                "yes" if u.active else "disabled",
                u.created_by,
                when(u.created_at),
            ]
            for u in users
        ],
    )


def _read_line(what: str) -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput(f"no {what} on standard input")
    return line


def _read_current(name: str, from_stdin: bool) -> str:
    if from_stdin:
        return _read_line("current password")
    current: str = typer.prompt(f"current password of {name}", hide_input=True, err=True)
    return current


def _read_password(from_stdin: bool) -> str:
    """From one line of standard input, or asked twice without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("no password on standard input")
        return password
    first: str = typer.prompt("new password", hide_input=True, err=True)
    second: str = typer.prompt("repeat the password", hide_input=True, err=True)
    if first != second:
        raise InvalidInput("the two passwords differ; nothing changed")
    return first


@users_app.command("add")
@requires(Permission.USERS_MANAGE)
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name: letters, digits, . _ - @ (at most 100).")],
    role: Annotated[str, typer.Option("--role", "-r", help=ROLE_HELP)],
    camera: Annotated[list[str] | None, typer.Option("--camera", help=CAMERA_HELP)] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from one line of standard input.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: the user signs in with API tokens only.")
    ] = False,
) -> None:
    """Add a user (asks for a password unless --password-stdin or --no-password)."""
    if password_stdin and no_password:
        raise InvalidInput("give --password-stdin or --no-password, not both")
    rt = runtime(ctx)
    password = None if no_password else _read_password(password_stdin)
    user = rt.users.add_user(name, role, camera or None, password, created_by=rt.actor.name)
    out.print(f"added user {user.name!r} (id {user.id}), role {user.role}, cameras: {_scope(user.cameras)}")


@users_app.command("list")
@requires(Permission.USERS_MANAGE)
def user_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List users with their role, camera scope and live tokens."""
    users = runtime(ctx).users.list_users()
    if as_json:
        for u in users:
            emit_json("user", u)
        return
    _users_table(users)


@users_app.command("role")
@requires(Permission.USERS_MANAGE)
def user_role(
    ctx: typer.Context,
    name: str,
    role: Annotated[str, typer.Argument(help=ROLE_HELP)],
) -> None:
    """Change a user's role."""
    user = runtime(ctx).users.set_role(name, role)
    out.print(f"user {user.name!r} now has role {user.role}")


@users_app.command("cameras")
@requires(Permission.USERS_MANAGE)
def user_cameras(
    ctx: typer.Context,
    name: str,
    camera: Annotated[
        list[str] | None, typer.Option("--camera", help="Camera id (repeat for several).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Lift the limit: every camera.")] = False,
) -> None:
    """Limit a user to some cameras, or lift the limit with --all."""
    if every == bool(camera):
        raise InvalidInput("give the cameras (--camera ID, repeatable) or --all, one or the other")
    user = runtime(ctx).users.set_cameras(name, None if every else camera)
    out.print(f"user {user.name!r} may use cameras: {_scope(user.cameras)}")


@users_app.command("passwd")
@requires(Permission.ACCOUNT_SELF)
def user_passwd(
    ctx: typer.Context,
    name: str,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from one line of standard input (with --own: the current "
            "password on the first line, the new one on the second).",
        ),
    ] = False,
    own: Annotated[
        bool,
        typer.Option(
            "--own", help="Set your own password, giving the current one (no other sign-in needed)."
        ),
    ] = False,
) -> None:
    """Set a user's password (asked twice, or one line of standard input): your own (signed in
    as yourself, or --own with the current password), or, with users.manage, anyone's. A
    password someone else set makes you not independent of them for the two-person rule
    until you set your own."""
    rt = runtime(ctx)
    if own:
        current = _read_current(name, password_stdin)
        password = _read_password(password_stdin)
        owner = rt.users.login(name, current)  # a wrong password: a failed sign-in, audited
        user = rt.users_as(owner).set_password(name, password)
        out.print(f"password of {user.name!r} changed by its owner")
        return
    if not same_person(rt.actor.name, name) or rt.actor.role == "local" or rt.actor.service:
        require_permission(rt, Permission.USERS_MANAGE, ctx.command_path)
    rt.users.get_user(name)  # an unknown name fails before anyone types a password
    user = rt.users.set_password(name, _read_password(password_stdin))
    out.print(f"password of {user.name!r} changed")


@users_app.command("disable")
@requires(Permission.USERS_MANAGE)
def user_disable(ctx: typer.Context, name: str) -> None:
    """Disable a user for good: no more sign-in, every token revoked."""
    user = runtime(ctx).users.deactivate(name)
    out.print(f"user {user.name!r} disabled; their tokens no longer work")


@users_app.command("whoami")
@requires(Permission.PUBLIC)
def user_whoami(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Say who the command line acts for: name, role, cameras."""
    actor = runtime(ctx).actor
    cameras = None if actor.cameras is None else sorted(actor.cameras)
    if as_json:
        emit_json(
            "actor", {"name": actor.name, "role": actor.role, "cameras": cameras, "service": actor.service}
        )
        return
    kind = " (service token)" if actor.service else ""
    out.print(f"{actor.name}{kind}, role {actor.role}, cameras: {_scope(actor.cameras)}")


@tokens_app.command("issue")
@requires(Permission.ACCOUNT_SELF)
def token_issue(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user the token acts for.")],
    label: Annotated[str, typer.Option("--label", "-l", help="What the token is for.")],
    service: Annotated[
        bool, typer.Option("--service", help="A machine's token: never a person of the two-person rule.")
    ] = False,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the token to this new file (mode 0600), not stdout.")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Sign in as the token's owner with their password, from one line of standard input.",
        ),
    ] = False,
) -> None:
    """Issue an API token. It is shown once: only its SHA-256 is kept. A personal token only
    to its owner, signed in as themselves (--user, $CITYWATCH_TOKEN or --password-stdin); a
    service token (--service) by a holder of users.manage."""
    rt = runtime(ctx)
    by = rt.actor
    if password_stdin:
        by = rt.users.login(name, _read_line("password"))  # audited as the owner's sign-in
    users = rt.users
    if out_file is None:
        issued = users.issue_token(name, label, service, by=by)
        out.print(issued.token, markup=False)
    else:
        fd = _create_private(out_file)  # before issuing: no token without a place to put it
        try:
            issued = users.issue_token(name, label, service, by=by)
        except BaseException:
            os.close(fd)
            out_file.unlink(missing_ok=True)
            raise
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(issued.token + "\n")
        out.print(f"wrote the token to {out_file} (mode 0600)")
    err.print(
        f"token {issued.id} for {issued.user!r} ({issued.label}{', service' if issued.service else ''}): "
        "it cannot be shown again; revoke with `citywatch user token revoke "
        f"{issued.id}`",
        markup=False,
        soft_wrap=True,
    )


def _create_private(path: Path) -> int:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"{path} already exists; a token is only ever written to a new file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot create {path}: {exc.strerror}") from None
    with contextlib.suppress(OSError):  # the mode is already 0600 unless the filesystem ignores it
        os.fchmod(fd, 0o600)
    return fd


@tokens_app.command("list")
@requires(Permission.USERS_MANAGE)
def token_list(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List API tokens (never the tokens themselves: they are not kept)."""
    tokens = runtime(ctx).users.list_tokens(name)
    if as_json:
        for t in tokens:
            emit_json("token", t)
        return
    _tokens_table(tokens)


def _tokens_table(tokens: list[TokenInfo]) -> None:
    table(
        f"{len(tokens)} token(s)",
        ["id", "user", "label", "service", "created", "revoked"],
        [
            [t.id, t.user, t.label, "yes" if t.service else "", when(t.created_at), when(t.revoked_at)]
            for t in tokens
        ],
    )


@tokens_app.command("revoke")
@requires(Permission.USERS_MANAGE)
def token_revoke(ctx: typer.Context, token_id: Annotated[int, typer.Argument(help="Token id.")]) -> None:
    """Revoke an API token: it stops working at once."""
    token = runtime(ctx).users.revoke_token(token_id)
    out.print(f"revoked token {token.id} of {token.user!r} ({token.label})")
