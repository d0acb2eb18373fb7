"""Stay-at-home orders, and the notice and appeal recorded against an alert."""

from __future__ import annotations

from typing import Annotated

import typer

from citywatch.audit.receipts import ReceiptInfo
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, err, out, table, when
from citywatch.cli.permissions import requires
from citywatch.cli.records import parse_when
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.domain.orders import OrderStatus, parse_area
from citywatch.domain.policy import Window
from citywatch.orders.checks import coverage_of
from citywatch.orders.service import NewOrder, OrderInfo
from citywatch.runtime.build import Runtime

orders_app = typer.Typer(
    help="Stay-at-home orders: a person, a permitted area, a window; a violation alerts.",
    no_args_is_help=True,
)


@orders_app.command("create")
@requires(Permission.ORDERS_MANAGE)
def order_create(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="The person, enrolled on a stay_at_home watchlist.")],
    legal_reference: Annotated[str, typer.Option(help="The order's legal reference.")],
    authority: Annotated[str, typer.Option(help="The issuing authority.")],
    start: Annotated[str, typer.Option("--from", help="Start (ISO time, or an age such as 1h).")],
    end: Annotated[str, typer.Option("--until", help="End (ISO time, or +14d).")],
    center: Annotated[str | None, typer.Option(help="Centre of the permitted area: LAT,LON.")] = None,
    radius_m: Annotated[float | None, typer.Option(help="Radius of the permitted area, metres.")] = None,
    polygon: Annotated[
        str | None, typer.Option(help="The permitted area as LAT,LON;LAT,LON;… (three points or more).")
    ] = None,
) -> None:
    """Record a stay-at-home order: while it runs, the person seen by a camera outside the
    area raises an `order_violation` alert; inside it, nothing is raised or kept."""
    rt = runtime(ctx)
    since, until = parse_when(start), parse_when(end)
    if since is None or until is None:
        raise InvalidInput("an order needs --from and --until")
    info = rt.orders.create(
        NewOrder(
            person, parse_area(center, radius_m, polygon), Window(since, until), legal_reference, authority
        ),
        by=rt.actor,
    )
    rt.order_checks.refresh()
    o = info.order
    out.print(
        f"order {o.id}: {o.person_name} to stay {o.area.describe()} from {when(since)} to {when(until)} "
        f"({o.legal_reference}, {o.issuing_authority})"
    )
    _say_who_checks(rt, info)


@orders_app.command("list")
@requires(Permission.ORDERS_READ)
def order_list(
    ctx: typer.Context,
    every: Annotated[bool, typer.Option("--all", help="Ended and revoked orders too.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Orders and where each stands."""
    rt = runtime(ctx)
    rt.orders.enforce()
    infos = rt.orders.orders(include_ended=every)
    if as_json:
        for i in infos:
            emit_json("order", i)
        return
    table(
        "stay-at-home orders",
        ["id", "person", "status", "area", "from", "until", "legal reference", "authority"],
        [
            [
                i.order.id,
                i.order.person_name,
                i.order.status,
                i.order.area.describe(),
                when(i.order.window.start),
                when(i.order.window.end),
                i.order.legal_reference,
                i.order.issuing_authority,
            ]
            for i in infos
        ],
    )
    for info in infos:
        if info.order.status is OrderStatus.ACTIVE:
            _say_who_checks(rt, info)


@orders_app.command("end")
@requires(Permission.ORDERS_MANAGE)
def order_end(ctx: typer.Context, order_id: int) -> None:
    """End an order now: the person's templates are deleted (receipt) unless another order keeps them."""
    rt = runtime(ctx)
    _ended(*rt.orders.end(order_id, by=rt.actor))
    rt.order_checks.refresh()


@orders_app.command("revoke")
@requires(Permission.ORDERS_MANAGE)
def order_revoke(ctx: typer.Context, order_id: int) -> None:
    """Revoke an order (issued in error): as ending it, recorded as a revocation."""
    rt = runtime(ctx)
    _ended(*rt.orders.end(order_id, by=rt.actor, revoke=True))
    rt.order_checks.refresh()


@orders_app.command("note")
@requires(Permission.ALERTS_ACT)
def order_note(
    ctx: typer.Context,
    alert_id: int,
    kind: Annotated[str, typer.Option(help="notice, appeal or appeal_outcome.")],
    text: Annotated[str, typer.Option(help="What the subject was told, their appeal, or its outcome.")],
) -> None:
    """Record against an alert the notice given to its subject, their appeal, or the outcome."""
    rt = runtime(ctx)
    note = rt.orders.add_note(alert_id, kind, text, by=rt.actor)
    out.print(f"{note.kind} recorded on alert {alert_id} (note {note.id})")


@orders_app.command("notes")
@requires(Permission.ALERTS_READ)
def order_notes(ctx: typer.Context, alert_id: int) -> None:
    """The notice, appeal and outcome recorded on an alert."""
    rt = runtime(ctx)
    notes = rt.orders.notes(alert_id, by=rt.actor)
    table(
        f"notes on alert {alert_id}",
        ["id", "kind", "text", "by", "at"],
        [[n.id, n.kind, n.text, n.recorded_by, when(n.at)] for n in notes],
    )


def _ended(info: OrderInfo, receipt: ReceiptInfo | None) -> None:
    o = info.order
    gone = 0 if receipt is None else receipt.counts.get("templates", 0)
    kept = "" if receipt is not None else "; another order in force keeps the templates"
    out.print(f"order {o.id} ({o.person_name}) {o.status}: {gone} template(s) deleted{kept}")


def _say_who_checks(rt: Runtime, info: OrderInfo) -> None:
    """Which cameras check the order now: an order no camera checks does nothing, and that
    must not go unnoticed."""
    coverage = coverage_of(rt.watchlists, rt.policy, rt.cameras(), info)
    if coverage is None:
        return
    order_id, watchlist = info.order.id, coverage.watchlist
    if coverage.checking:
        out.print(f"order {order_id} is checked by camera(s) {', '.join(coverage.checking)}")
    else:
        err.print(
            f"[yellow]order {order_id}: no camera checks it now: a camera needs a location and an "
            f"authorisation in force bound to watchlist {watchlist}[/]"
        )
    if coverage.unplaced:
        err.print(
            f"[yellow]camera(s) {', '.join(coverage.unplaced)} identify against {watchlist} but have no "
            "location (cameras[].location: [lat, lon]) and take no part in order checks[/]"
        )
