"""Retention: purge what has expired, place and release legal holds, list deletion receipts."""

from __future__ import annotations

from typing import Annotated

import typer

from citywatch.audit.receipts import ReceiptInfo
from citywatch.changes.service import APPROVE_HINT, pending_hint
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, out, table, when
from citywatch.cli.permissions import requires
from citywatch.cli.records import parse_when
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import Window
from citywatch.retention.hold_records import HoldInfo, NewHold

holds_app = typer.Typer(help="Legal holds: what they cover survives retention.", no_args_is_help=True)


@requires(Permission.RETENTION_PURGE)
def purge(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; delete nothing.")] = False,
) -> None:
    """Delete, physically and with a receipt, everything older than its retention that no
    hold covers (`citywatch run` does this every retention.purge_every_min)."""
    rt = runtime(ctx)
    if dry_run:
        plan = rt.purger.plan()
        table(
            f"a purge now would delete (policy {rt.retention.policy.version})",
            ["class", "items", "expired but held"],
            [[k, v, plan.held.get(k, "")] for k, v in plan.counts.items()],
        )
        if plan.audit is not None:
            a = plan.audit
            out.print(
                f"audit records {a.first_seq}–{a.last_seq} ({a.first_at[:19]} to {a.last_at[:19]}) "
                "would be pruned behind a signed anchor"
            )
        return
    # whoever runs the command purges, by name; the audit prune also names the process and config
    receipt = rt.purger.purge(by=rt.actor, orphans=rt.recover, started_by=rt.started_by("citywatch purge"))
    if receipt is None:
        out.print("nothing has expired: nothing deleted")
        return
    _print_receipt(receipt)


@holds_app.command("place")
@requires(Permission.HOLDS_MANAGE)
def holds_place(
    ctx: typer.Context,
    reference: Annotated[str, typer.Option(help="The case or request the hold serves.")],
    reason: Annotated[str, typer.Option(help="Why the data must be kept.")],
    requester: Annotated[str, typer.Option(help="Who asked for it (default: you).")] = "",
    camera: Annotated[list[str] | None, typer.Option("--camera", "-c", help="Camera (repeat).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Window start (ISO time or age).")] = None,
    end: Annotated[str | None, typer.Option("--until", help="Window end (ISO time or age).")] = None,
    sighting: Annotated[list[int] | None, typer.Option(help="A sighting id (repeat).")] = None,
    alert: Annotated[list[int] | None, typer.Option(help="An alert id (repeat).")] = None,
    recording: Annotated[list[int] | None, typer.Option(help="A recording id (repeat).")] = None,
    expires: Annotated[
        str | None, typer.Option(help="Until (ISO time or +30d); default: until released.")
    ] = None,
) -> None:
    """Hold cameras over a time window, or named sightings, alerts or recordings."""
    rt = runtime(ctx)
    window = None
    if camera or start or end:
        since, until = parse_when(start), parse_when(end)
        if since is None or until is None:
            raise InvalidInput("a hold over cameras needs --from and --until")
        window = Window(since, until)
    items = [("sighting", i) for i in sighting or []] + [("alert", i) for i in alert or []]
    items += [("recording", i) for i in recording or []]
    info = rt.retention.place_hold(
        NewHold(
            reference=reference,
            reason=reason,
            requester=requester,
            cameras=camera or [],
            window=window,
            items=items,
            expires_at=parse_when(expires),
        ),
        by=rt.actor,
    )
    out.print(f"hold {info.hold.id} placed for {info.hold.reference}: {_scope(info)}")
    if info.awaiting_change is not None:
        out.print(
            f"it holds until {when(info.hold.expires_at)} unless a second person approves: "
            + APPROVE_HINT.format(id=info.awaiting_change)
        )


@holds_app.command("extend")
@requires(Permission.HOLDS_MANAGE)
def holds_extend(
    ctx: typer.Context,
    hold_id: int,
    until: Annotated[
        str | None, typer.Option(help="New expiry (ISO time or +30d); omit: until released.")
    ] = None,
) -> None:
    """Keep a hold longer."""
    rt = runtime(ctx)
    info = rt.retention.extend_hold(hold_id, parse_when(until), by=rt.actor)
    out.print(f"hold {hold_id} now runs until {when(info.hold.expires_at) or 'released'}")


@holds_app.command("release")
@requires(Permission.HOLDS_MANAGE)
def holds_release(
    ctx: typer.Context,
    hold_id: int,
    reason: Annotated[str, typer.Option(help="Why the hold may go (audited).")],
) -> None:
    """Release a hold: what it alone kept is deleted at the next purge. Another person's hold
    waits for a second person; a request's hold goes only with the request's decision."""
    rt = runtime(ctx)
    done = rt.retention.release_hold(hold_id, reason, by=rt.actor)
    if done.change is not None:
        out.print(f"hold {hold_id} stays until a second person approves; {pending_hint(done.change)}")
        return
    if done.receipt is not None:
        receipt = done.receipt
        freed = ", ".join(f"{v} {k}" for k, v in receipt.counts.items() if v) or "nothing"
        out.print(f"hold {hold_id} released; eligible at the next purge: {freed} (receipt {receipt.id})")


@holds_app.command("list")
@requires(Permission.HOLDS_MANAGE)
def holds_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include released and expired holds.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Holds in force (or all of them); limited to some cameras, those wholly within them."""
    rt = runtime(ctx)
    infos = rt.retention.holds(include_released=all_, visible_to=rt.actor)
    if as_json:
        for i in infos:
            emit_json("hold", i)
        return
    table(
        "holds",
        ["id", "reference", "scope", "reason", "requester", "expires", "released"],
        [
            [
                i.hold.id,
                i.hold.reference,
                _scope(i),
                i.reason,
                i.requester,
                when(i.hold.expires_at),
                when(i.hold.released_at),
            ]
            for i in infos
        ],
    )


@requires(Permission.RECEIPTS_READ)
def receipts(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deletion receipts: purges, hold releases, authorisations closed (newest first)."""
    rows = runtime(ctx).purger.receipts(limit=limit)
    if as_json:
        for r in rows:
            emit_json("receipt", r)
        return
    table(
        f"{len(rows)} receipt(s)",
        ["id", "time", "kind", "deleted", "policy", "audit record"],
        [
            [
                r.id,
                when(r.at),
                r.kind,
                ", ".join(f"{v} {k}" for k, v in r.counts.items() if v) or "nothing",
                r.policy_version,
                r.audit_seq,
            ]
            for r in rows
        ],
    )


def _print_receipt(r: ReceiptInfo) -> None:
    deleted = ", ".join(f"{v} {k}" + (" records" if k == "audit" else "") for k, v in r.counts.items() if v)
    held = ", ".join(f"{v} {k}" for k, v in r.details.get("held", {}).items() if v)
    out.print(f"purged {deleted}; receipt {r.id} (audit record {r.audit_seq}, policy {r.policy_version})")
    if held:
        out.print(f"kept by holds although expired: {held}")
    audit = r.details.get("audit")
    if audit:
        first, last = audit["seq_range"]
        out.print(
            f"audit records {first}–{last} pruned; the chain now starts from a signed anchor at "
            f"record {audit['anchor']['seq']} (prune recorded as audit record {audit['prune_record']})"
        )


def _scope(info: HoldInfo) -> str:
    h = info.hold
    parts = []
    if h.window is not None:
        parts.append(f"{', '.join(sorted(h.cameras))} from {when(h.window.start)} to {when(h.window.end)}")
    if h.items:
        parts.append(", ".join(f"{k} {i}" for k, i in sorted(h.items)))
    return "; ".join(parts)
