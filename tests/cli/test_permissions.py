"""Every command declares its permission; `can` is default deny, by role."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from citywatch.cli.context import CliContext
from citywatch.cli.main import app
from citywatch.cli.permissions import PERMISSION_ATTR, requires
from citywatch.config.settings import Settings
from citywatch.domain.access import GRANTS, Permission, Role, can
from citywatch.domain.audit import Actor
from citywatch.domain.errors import PermissionDenied
from citywatch.runtime.build import Runtime


def commands(group: Any, path: str = "citywatch") -> list[tuple[str, Any]]:
    out = []
    for name, cmd in getattr(group, "commands", {}).items():
        if getattr(cmd, "commands", None) is not None:
            out += commands(cmd, f"{path} {name}")
        else:
            out.append((f"{path} {name}", cmd))
    return out


def test_every_command_declares_a_permission() -> None:
    found = commands(typer.main.get_command(app))
    assert len(found) > 20
    missing = [
        path
        for path, cmd in found
        if not isinstance(getattr(cmd.callback, PERMISSION_ATTR, None), Permission)
    ]
    assert missing == []


def test_public_commands_are_only_the_harmless_ones() -> None:
    public = {
        path
        for path, cmd in commands(typer.main.get_command(app))
        if getattr(cmd.callback, PERMISSION_ATTR) is Permission.PUBLIC
    }
    # the transparency report is public data by design: counts only, never a name
    assert public == {
        "citywatch version",
        "citywatch init",
        "citywatch user whoami",
        "citywatch transparency",
    }


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("investigator", Permission.CASE_SEARCH, True),
        ("admin", Permission.CASE_SEARCH, False),  # admins run the system, not investigations
        ("operator", Permission.CASE_SEARCH, False),
        ("auditor", Permission.AUDIT_READ, True),
        ("auditor", Permission.SIGHTINGS_READ, False),  # no biometric data for auditors
        ("operator", Permission.ALERTS_READ, True),
        ("operator", Permission.WATCHLISTS_MANAGE, False),
        ("supervisor", Permission.WATCHLISTS_MANAGE, True),
        ("admin", Permission.CAMERAS_RUN, True),
        ("stranger", Permission.ALERTS_READ, False),  # unknown role: nothing
        ("stranger", Permission.PUBLIC, True),
        ("local", Permission.CASE_SEARCH, True),
    ],
)
def test_can(role: str, permission: Permission, allowed: bool) -> None:
    assert can(Actor("someone", role), permission) is allowed


def test_only_investigators_and_the_local_shell_search_by_photo() -> None:
    assert {r for r, perms in GRANTS.items() if Permission.CASE_SEARCH in perms} == {
        Role.INVESTIGATOR,
        Role.LOCAL,
    }


def test_a_refusal_is_clear_and_audited(tmp_path: Any) -> None:
    rt = Runtime(Settings(data_dir=tmp_path))
    rt.actor = Actor("ann", "auditor")
    obj = CliContext(None)
    obj._runtime = rt
    probe = typer.Typer()

    @probe.command()
    @requires(Permission.CASE_SEARCH)
    def search(ctx: typer.Context) -> None:
        raise AssertionError("must not run")

    command = typer.main.get_command(probe)
    with pytest.raises(PermissionDenied, match=r"needs the case.search permission, which role auditor lacks"):
        command.main([], obj=obj, standalone_mode=False)
    (record,) = rt.audit_log.entries()
    assert (record.action, record.actor, record.role) == ("access.refused", "ann", "auditor")
    assert record.params == {"permission": "case.search"}
    rt.close()
