"""`alerts test-sink`, `alerts outbox` and `alerts replay`: the delivery of alerts, seen and
repaired from the shell."""

from __future__ import annotations

from typing import Annotated

import typer

from citywatch.alerts.delivery.outbox import OutboxStatus
from citywatch.alerts.delivery.sink import DeliveryFailed
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, out, table, when
from citywatch.cli.permissions import requires
from citywatch.domain.access import Permission
from citywatch.domain.audit import Action, AuditEvent
from citywatch.domain.errors import InvalidInput


@requires(Permission.SYSTEM_MANAGE)
def test_sink(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Sink name, as configured under delivery.sinks.")],
) -> None:
    """Send a test message (naming no one) through one sink and say whether it arrived."""
    rt = runtime(ctx)
    sink = rt.sink(name)
    try:
        result = sink.probe()
    except DeliveryFailed as exc:
        rt.audit(AuditEvent(Action.SINK_TEST, f"sink:{name}", params={"ok": False, "error": str(exc)}))
        raise
    finally:
        sink.close()
    rt.audit(AuditEvent(Action.SINK_TEST, f"sink:{name}", params={"ok": True}))
    out.print(f"{name}: {result}")


@requires(Permission.ALERTS_READ)
def outbox(
    ctx: typer.Context,
    status: Annotated[OutboxStatus | None, typer.Option(help="Only rows in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Alert messages waiting for, delivered to, or dead-lettered by each sink."""
    rt = runtime(ctx)
    entries = rt.outbox.entries(status, limit)
    if as_json:
        for e in entries:
            emit_json("outbox", e)
        return
    counts = rt.outbox.counts()
    rows = [
        [
            e.id,
            e.alert_id,
            e.sink,
            e.status,
            e.attempts,
            when(e.delivered_at) if e.status is OutboxStatus.DELIVERED else when(e.next_attempt_at),
            (e.last_error or "")[:80],
        ]
        for e in entries
    ]
    title = "outbox (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")"
    table(title, ["id", "alert", "sink", "status", "attempts", "next / delivered", "last error"], rows)


@requires(Permission.SYSTEM_MANAGE)
def replay(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Outbox row ids (dead ones).")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead-lettered row.")] = False,
) -> None:
    """Send dead-lettered alert messages again (back to pending, attempts from zero; audited)."""
    if bool(ids) == all_dead:
        raise InvalidInput("give outbox row ids or --all-dead (not both)")
    replayed = runtime(ctx).outbox.replay(None if all_dead else ids)
    if not replayed:
        out.print("no dead outbox rows")
        return
    out.print(
        f"{len(replayed)} message(s) back to pending: {', '.join(f'#{i}' for i in replayed)}; "
        "a running `citywatch run` or `watch` sends them"
    )
