"""`citywatch audit …`: read, checkpoint and verify the tamper-evident audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citywatch.audit.chain import compared, head_json
from citywatch.audit.keys import load_public, public_pem
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, emit_line, err, out, plain, table
from citywatch.cli.permissions import requires
from citywatch.domain.access import Permission

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
@requires(Permission.AUDIT_READ)
def verify(
    ctx: typer.Context,
    public_key: Annotated[
        Path | None, typer.Option(help="Exported public key to check the signatures with (default: ours).")
    ] = None,
    witness: Annotated[
        Path | None,
        typer.Option(
            help="A witness file to compare with (a copy shipped elsewhere, or `audit head` lines "
            "collected there); default: the configured audit.witness_path."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The verdict as one JSON object.")] = False,
) -> None:
    """Check the hash chain, the signed checkpoints (every 100th record has one), the signed
    anchor the chain starts from where retention pruned the oldest records, and the chain
    against the witness's signed heads (records cut off the end, an emptied log, a rewritten
    and re-hashed tail); say what was compared and name the first bad record."""
    log = runtime(ctx).audit_log
    verdict = log.verify(load_public(public_key) if public_key else None, witness=witness)
    if as_json:
        emit_json("audit_verdict", {**plain(verdict), "compared": compared(verdict)})
        if not verdict.ok:
            raise typer.Exit(1)
        return
    if verdict.ok:
        out.print("audit log intact; compared:")
        for line in compared(verdict):
            out.print(f"  {line}")
        anchors = log.anchors()
        if verdict.anchor is not None and anchors:
            latest = anchors[-1]
            out.print(
                f"records 1–{verdict.anchor.seq} pruned under retention "
                f"({sum(a.pruned.count for a in anchors)} record(s) in {len(anchors)} prune(s)), "
                f"anchored and signed at {latest.anchored_at[:19]}"
            )
        for note in verdict.notes:
            out.print(f"note: {note}")
        return
    where = f" at record {verdict.first_bad_seq}" if verdict.first_bad_seq is not None else ""
    err.print(f"[bold red]audit log broken{where}:[/] {verdict.reason}")
    for problem in verdict.problems[1:]:
        err.print(f"also: {problem.reason}")
    for note in verdict.notes:
        err.print(f"note: {note}")
    err.print("compared:")
    for line in compared(verdict):
        err.print(f"  {line}")
    raise typer.Exit(1)


@audit_app.command("head")
@requires(Permission.AUDIT_READ)
def head(ctx: typer.Context) -> None:
    """Print the current head of the chain, signed, as one JSON line (also appended to the
    witness), for shipping elsewhere: append it to a file on another machine and check this
    log against that file with `audit verify --witness FILE`. The log is verified first: a
    head is never signed over a log that does not verify."""
    log = runtime(ctx).audit_log
    verdict = log.verify()
    if not verdict.ok:
        where = f" at record {verdict.first_bad_seq}" if verdict.first_bad_seq is not None else ""
        err.print(f"[bold red]audit log broken{where}:[/] {verdict.reason}")
        err.print("no head signed: run `citywatch audit verify` for what was compared")
        raise typer.Exit(1)
    signed = log.head()
    if signed is None:
        err.print("nothing to sign: the audit log is empty")
        raise typer.Exit(1)
    emit_line(head_json(signed))


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
    """Sign the current head of the chain now, as a checkpoint and a witness line (a log
    written before the witness existed starts its witness so)."""
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
