"""Changes waiting for a second person: list, approve, refuse (the two-person rule)."""

from __future__ import annotations

from typing import Annotated

import typer

from citywatch.audit.two_person import same_person
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, out, table, when
from citywatch.cli.permissions import requires
from citywatch.domain.access import Permission
from citywatch.domain.records import ChangeInfo, ChangeStatus

changes_app = typer.Typer(
    help="Changes that widen what is matched (new persons and reference images, persons moved "
    "onto another watchlist, looser thresholds and margins) wait here until a second person "
    "approves them.",
    no_args_is_help=True,
)


def _summary(c: ChangeInfo) -> str:
    shown = {k: v for k, v in c.params.items() if k != "reference_ids"}
    if "reference_ids" in c.params:
        shown["references"] = len(c.params["reference_ids"])
    return ", ".join(f"{k}={v}" for k, v in shown.items())


@changes_app.command("list")
@requires(Permission.WATCHLISTS_READ)
def changes_list(
    ctx: typer.Context,
    status: Annotated[
        ChangeStatus | None, typer.Option(help="Only changes in this state (default: pending).")
    ] = ChangeStatus.PENDING,
    every: Annotated[bool, typer.Option("--all", help="Changes in every state.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List changes (pending ones by default), oldest first."""
    rows = runtime(ctx).changes.list_changes(None if every else status)
    if as_json:
        for c in rows:
            emit_json("change", c)
        return
    table(
        f"{len(rows)} change(s)",
        ["id", "kind", "object", "details", "status", "proposed by", "proposed", "decided by", "note"],
        [
            [
                c.id,
                c.kind,
                c.object,
                _summary(c),
                c.status,
                f"{c.proposed_by} ({c.proposed_role}{', service' if c.proposed_by_service else ''})",
                when(c.created_at),
                c.decided_by,
                c.note,
            ]
            for c in rows
        ],
    )


@changes_app.command("approve")
@requires(Permission.CHANGES_APPROVE)
def changes_approve(ctx: typer.Context, change_id: int) -> None:
    """Approve and apply a pending change; you must not be the person who proposed it."""
    rt = runtime(ctx)
    c = rt.changes.approve(change_id, rt.actor)
    out.print(f"change {c.id} ({c.kind} on {c.object}) approved and applied; proposed by {c.proposed_by}")


@changes_app.command("refuse")
@requires(Permission.WATCHLISTS_MANAGE)
def changes_refuse(
    ctx: typer.Context,
    change_id: int,
    reason: Annotated[str, typer.Option(help="Why (kept with the change and in the audit log).")] = "",
) -> None:
    """Refuse a pending change (needs changes.approve), or withdraw one you proposed yourself.
    A refused person or set of reference images is erased with its templates."""
    rt = runtime(ctx)
    c = rt.changes.refuse(change_id, rt.actor, reason)
    by_proposer = " (withdrawn by its proposer)" if same_person(c.proposed_by, rt.actor.name) else ""
    out.print(f"change {c.id} ({c.kind} on {c.object}) refused{by_proposer}")
