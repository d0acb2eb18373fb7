"""`citywatch transparency`: the public transparency report, as tables or as JSON."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer

from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, out, table, when
from citywatch.cli.permissions import requires
from citywatch.cli.records import parse_when
from citywatch.domain.access import Permission
from citywatch.transparency.report import TransparencyReport, transparency_report

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@requires(Permission.PUBLIC)
def transparency(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(help="Period start: a date (from its midnight), ISO time or age like 30d."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Period end: a date (through that day), ISO time or age; default now."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Deletions (from the receipts), holds, requests, cameras identifying and authorisations
    in force: counts only, never a name. Public."""
    start = parse_when(since)
    end = parse_when(until)
    if until is not None and end is not None and _DATE.match(until.strip()):
        end += timedelta(days=1)  # a date names the whole day
    rt = runtime(ctx)
    report = transparency_report(rt.database, rt.policy, rt.cameras(), start, end)
    if as_json:
        emit_json("transparency_report", report)
        return
    _print(report)


_KIND_LABEL = {
    "purge": "by purges",
    "authorisation": "by authorisations ended",
    "hold_release": "released from holds",
}


def _print(r: TransparencyReport) -> None:
    out.print(
        f"transparency report from {when(r.since) or 'the first record'} until {when(r.until)} "
        f"(generated {when(r.generated_at)})"
    )
    receipts = ", ".join(f"{k.receipts} {k.kind}" for k in r.by_kind)
    table(
        f"{r.receipts} deletion receipt(s) in the period ({receipts})",
        ["data class", "deleted", *(_KIND_LABEL.get(k.kind, k.kind) for k in r.by_kind)],
        [[c, n, *(k.items.get(c, 0) for k in r.by_kind)] for c, n in r.deleted.items()],
    )
    out.print("Released from holds: made eligible for deletion; the purge that deletes them counts them.")
    table(
        f"{r.holds.in_force} hold(s) in force",
        ["placed for", "holds"],
        [[k, n] for k, n in r.holds.by_reference.items()],
    )
    table(
        f"requests filed in the period ({r.overdue_requests} overdue now)",
        ["kind", "status", "requests"],
        [[q.kind, q.status, q.count] for q in r.requests],
    )
    c = r.cameras
    table(
        f"cameras now: {c.identifying} of {c.configured} identifying",
        ["mode", "cameras"],
        [[m, n] for m, n in c.by_mode.items()],
    )
    a = r.authorisations
    table(
        f"{a.in_force} authorisation(s) in force ({a.urgent_unapproved} urgent, not yet approved)",
        ["legal basis", "authorisations", "cameras"],
        [[b.legal_basis, b.authorisations, b.cameras] for b in a.by_legal_basis],
    )
    table(
        "authorisations in force by size",
        ["cameras named", "authorisations"],
        [[size, n] for size, n in a.by_size.items()],
    )
