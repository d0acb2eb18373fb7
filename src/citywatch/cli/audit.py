"""`citywatch audit …`: read, checkpoint and verify the tamper-evident audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citywatch.audit.access import Permission
from citywatch.audit.keys import load_public, public_pem
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, err, out, table
from citywatch.cli.permissions import requires

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
@requires(Permission.AUDIT_READ)
def verify(
    ctx: typer.Context,
    public_key: Annotated[
        Path | None, typer.Option(help="Exported public key to check the signatures with (default: ours).")
    ] = None,
) -> None:
    """Check the hash chain, the signed checkpoints and, where retention pruned the oldest
    records, the signed anchor the chain starts from; name the first bad record."""
    log = runtime(ctx).audit_log
    verdict = log.verify(load_public(public_key) if public_key else None)
    if verdict.ok:
        out.print(f"audit log intact: {verdict.records} record(s), chain and signed checkpoints verified")
        anchors = log.anchors()
        if verdict.anchor is not None and anchors:
            latest = anchors[-1]
            out.print(
                f"records 1–{verdict.anchor.seq} pruned under retention "
                f"({sum(a.pruned.count for a in anchors)} record(s) in {len(anchors)} prune(s)), "
                f"anchored and signed at {latest.anchored_at[:19]}"
            )
        return
    err.print(f"[bold red]audit log broken at record {verdict.first_bad_seq}:[/] {verdict.reason}")
    raise typer.Exit(1)


@audit_app.command("list")
@requires(Permission.AUDIT_READ)
def list_records(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The latest audit records."""
    entries = runtime(ctx).audit_log.entries()[-limit:]
    if as_json:
        for e in entries:
            emit_json("audit", e)
        return
    table(
        f"{len(entries)} audit record(s)",
        ["seq", "time", "actor", "role", "action", "object", "legal basis", "results"],
        [
            [e.seq, e.at[:19], e.actor, e.role, e.action, e.object, e.legal_basis, e.result_count]
            for e in entries
        ],
    )


@audit_app.command("checkpoint")
@requires(Permission.SYSTEM_MANAGE)
def checkpoint(ctx: typer.Context) -> None:
    """Sign the current head of the chain now."""
    cp = runtime(ctx).audit_log.checkpoint()
    out.print(
        "nothing to sign: the audit log is empty"
        if cp is None
        else f"signed record {cp.seq} ({cp.hash[:16]}…)"
    )


@audit_app.command("export-key")
@requires(Permission.AUDIT_READ)
def export_key(ctx: typer.Context) -> None:
    """Print the public key that verifies the checkpoints (PEM), to publish or keep apart."""
    out.print(public_pem(runtime(ctx).audit_log.public_key), end="")
