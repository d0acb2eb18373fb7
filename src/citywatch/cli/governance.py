"""Zones, events, policy rules and authorisations: who may identify whom, where and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, err, out, table, when
from citywatch.cli.permissions import require_permission, requires
from citywatch.cli.records import parse_when
from citywatch.config.ingest import CameraSettings
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import (
    AuthorisationStatus,
    CameraPlace,
    ProcessingMode,
    Window,
    mode_for,
    parse_point,
)
from citywatch.governance.records import AuthorisationInfo, NewAuthorisation
from citywatch.runtime.build import Runtime

zones_app = typer.Typer(help="Zones: named areas, some protected (identification off).", no_args_is_help=True)
events_app = typer.Typer(
    help="Scheduled events (e.g. a registered assembly): identification off in their zone meanwhile.",
    no_args_is_help=True,
)
policy_app = typer.Typer(help="Policy rules and the mode each camera is in.", no_args_is_help=True)
auth_app = typer.Typer(
    help="Authorisations: the recorded permission every identification needs.", no_args_is_help=True
)

Cameras = Annotated[list[str], typer.Option("--camera", "-c", help="Camera id (repeat for several).")]


def _warn_unconfigured(rt: Runtime, cameras: list[str]) -> None:
    """A camera id nobody configured is most often a typo that quietly removes a protection."""
    known = {c.id for c in rt.cameras()}
    if unknown := sorted(set(cameras) - known):
        err.print(
            f"[yellow]warning:[/] camera(s) {', '.join(unknown)} not in the configuration "
            f"(known: {', '.join(sorted(known)) or 'none'}); recorded as given"
        )


def _required_when(text: str, what: str) -> datetime:
    value = parse_when(text)
    if value is None:
        raise InvalidInput(f"{what} is required")
    return value


# --- zones ---------------------------------------------------------------------------------


@zones_app.command("add")
@requires(Permission.POLICY_MANAGE)
def zones_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Zone name.")],
    point: Annotated[
        list[str] | None, typer.Option("--point", "-p", help="Polygon corner LAT,LON (at least 3).")
    ] = None,
    camera: Annotated[
        list[str] | None, typer.Option("--camera", "-c", help="Camera in the zone by name.")
    ] = None,
    protected: Annotated[
        bool, typer.Option(help="Identification off here unless an authorisation names it.")
    ] = False,
) -> None:
    """Add a zone: a polygon (cameras whose location lies inside are in it) and/or named cameras."""
    rt = runtime(ctx)
    _warn_unconfigured(rt, camera or [])
    zone = rt.governance.add_zone(
        name,
        polygon=[parse_point(p) for p in point or []],
        cameras=camera or [],
        protected=protected,
        by=rt.actor,
    )
    kind = "protected zone" if zone.protected else "zone"
    out.print(
        f"added {kind} [bold]{zone.name}[/] ({len(zone.polygon)} corners, {len(zone.cameras)} named cameras)"
    )


@zones_app.command("list")
@requires(Permission.POLICY_READ)
def zones_list(ctx: typer.Context) -> None:
    """List zones and the configured cameras each covers."""
    rt = runtime(ctx)
    places = [_place(c) for c in rt.cameras()]
    table(
        "zones",
        ["name", "protected", "corners", "cameras (named or inside)"],
        [
            [
                z.name,
                "yes" if z.protected else "",
                len(z.polygon),
                ", ".join(sorted(set(z.cameras) | {p.id for p in places if z.covers(p)})),
            ]
            for z in rt.governance.zones()
        ],
    )


@zones_app.command("remove")
@requires(Permission.POLICY_MANAGE)
def zones_remove(ctx: typer.Context, name: str) -> None:
    """Remove a zone (its events first)."""
    rt = runtime(ctx)
    rt.governance.remove_zone(name, by=rt.actor)
    out.print(f"removed zone {name}")


# --- events --------------------------------------------------------------------------------


@events_app.command("add")
@requires(Permission.POLICY_MANAGE)
def events_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Event name, e.g. 'assembly-2026-11-28'.")],
    zone: Annotated[str, typer.Option(help="Zone it takes place in.")],
    start: Annotated[str, typer.Option("--from", help="Start: ISO time, or an age such as 1h (ago).")],
    end: Annotated[str, typer.Option("--until", help="End: ISO time.")],
) -> None:
    """Schedule an event: identification is off in its zone while it lasts."""
    rt = runtime(ctx)
    event = rt.governance.add_event(
        name,
        zone=zone,
        starts_at=_required_when(start, "--from"),
        ends_at=_required_when(end, "--until"),
        by=rt.actor,
    )
    out.print(
        f"scheduled [bold]{event.name}[/] in zone {event.zone}, "
        f"{when(event.window.start)} to {when(event.window.end)}: identification off there meanwhile"
    )


@events_app.command("list")
@requires(Permission.POLICY_READ)
def events_list(ctx: typer.Context) -> None:
    """List scheduled events."""
    table(
        "events",
        ["name", "zone", "from", "until"],
        [
            [e.name, e.zone, when(e.window.start), when(e.window.end)]
            for e in runtime(ctx).governance.events()
        ],
    )


@events_app.command("remove")
@requires(Permission.POLICY_MANAGE)
def events_remove(ctx: typer.Context, name: str) -> None:
    """Remove a scheduled event."""
    rt = runtime(ctx)
    rt.governance.remove_event(name, by=rt.actor)
    out.print(f"removed event {name}")


# --- policy --------------------------------------------------------------------------------


@policy_app.command("set")
@requires(Permission.POLICY_MANAGE)
def policy_set(
    ctx: typer.Context,
    mode: Annotated[ProcessingMode, typer.Argument(help="Mode for the camera or zone.")],
    camera: Annotated[str | None, typer.Option("--camera", "-c", help="One camera.")] = None,
    zone: Annotated[str | None, typer.Option(help="Every camera of a zone.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="From (ISO time); default: no start.")] = None,
    end: Annotated[str | None, typer.Option("--until", help="Until (ISO time); default: no end.")] = None,
) -> None:
    """Add a policy rule. Rules override the configured mode; where several hold, the most
    restrictive wins. Identification still needs an authorisation."""
    rt = runtime(ctx)
    _warn_unconfigured(rt, [camera] if camera else [])
    rule = rt.governance.add_rule(
        mode, camera=camera, zone=zone, window=Window(parse_when(start), parse_when(end)), by=rt.actor
    )
    target = f"camera {camera}" if camera else f"zone {zone}"
    out.print(f"rule {rule.id}: {target} → {mode}")


@policy_app.command("remove")
@requires(Permission.POLICY_MANAGE)
def policy_remove(ctx: typer.Context, rule_id: int) -> None:
    """Remove a policy rule."""
    rt = runtime(ctx)
    rt.governance.remove_rule(rule_id, by=rt.actor)
    out.print(f"removed rule {rule_id}")


@policy_app.command("show")
@requires(Permission.POLICY_READ)
def policy_show(
    ctx: typer.Context,
    camera: Annotated[
        list[str] | None, typer.Option("--camera", "-c", help="Also decide for this camera id.")
    ] = None,
    at: Annotated[str | None, typer.Option(help="At this time (ISO); default now.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The rules, and the mode each configured camera is in now, with the reasons."""
    rt = runtime(ctx)
    moment = parse_when(at) or datetime.now(UTC)
    snapshot = rt.governance.snapshot()
    places = [_place(c) for c in rt.cameras()]
    places += [CameraPlace(c) for c in camera or [] if c not in {p.id for p in places}]
    rows = []
    for place in places:
        d = mode_for(place, snapshot, moment)
        if as_json:
            emit_json(
                "camera_mode",
                {
                    "camera": place.id,
                    "location": None if place.location is None else [place.location.lat, place.location.lon],
                    "mode": d.mode,
                    "requested": d.requested,
                    "authorisations": sorted(a.reference for a in d.authorisations),
                    "watchlists": sorted(d.watchlists),
                    "reasons": list(d.reasons),
                },
            )
        rows.append(
            [
                place.id,
                _where(place),
                d.requested,
                d.mode,
                ", ".join(a.reference for a in d.authorisations),
                "; ".join(d.reasons),
            ]
        )
    if as_json:
        return
    table(
        "rules",
        ["id", "camera", "zone", "mode", "from", "until"],
        [[r.id, r.camera, r.zone, r.mode, when(r.window.start), when(r.window.end)] for r in snapshot.rules],
    )
    table(
        f"cameras at {when(moment)}",
        ["camera", "location", "asked", "mode", "authorisations", "why lower"],
        rows,
    )


def _where(place: CameraPlace) -> str:
    """A camera's location, or why it matters that it has none (orders need one)."""
    if place.location is None:
        return "none (no order checks)"
    return f"{place.location.lat:.5f},{place.location.lon:.5f}"


def _place(camera: CameraSettings) -> CameraPlace:
    return CameraPlace(camera.id, camera.mode, camera.geo)


# --- authorisations ------------------------------------------------------------------------


@auth_app.command("request")
@requires(Permission.AUTHORISATIONS_REQUEST)
def auth_request(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="Reference, e.g. the warrant number.")],
    issuer: Annotated[str, typer.Option(help="Who issued it (court, authority).")],
    legal_basis: Annotated[str, typer.Option(help="The law it rests on.")],
    objective: Annotated[str, typer.Option(help="What it is for, e.g. 'find missing child M.K.'.")],
    camera: Cameras,
    until: Annotated[str, typer.Option(help="End of its window (ISO time).")],
    start: Annotated[str | None, typer.Option("--from", help="Start (ISO time); default now.")] = None,
    watchlist: Annotated[
        list[str] | None, typer.Option("--watchlist", "-w", help="Bind this watchlist to it (repeat).")
    ] = None,
    zone: Annotated[list[str] | None, typer.Option(help="Protected zone it reaches into (repeat).")] = None,
    event: Annotated[list[str] | None, typer.Option(help="Protected event it reaches into (repeat).")] = None,
    urgent: Annotated[
        bool, typer.Option(help="In force at once; a supervisor must approve it before the deadline.")
    ] = False,
) -> None:
    """Record an authorisation. It is pending until a supervisor (not you) approves it; an urgent
    one is in force at once, and everything derived under it is deleted if it is refused or not
    approved in time."""
    rt = runtime(ctx)
    if watchlist:
        require_permission(rt, Permission.WATCHLISTS_MANAGE, f"{ctx.command_path} --watchlist")
    _warn_unconfigured(rt, camera)
    info = rt.governance.request(
        NewAuthorisation(
            reference=reference,
            issuer=issuer,
            legal_basis=legal_basis,
            objective=objective,
            cameras=camera,
            starts_at=parse_when(start) or datetime.now(UTC),
            ends_at=_required_when(until, "--until"),
            urgent=urgent,
            zones=zone or [],
            events=event or [],
            watchlists=watchlist or [],
        ),
        by=rt.actor,
        urgent_deadline=timedelta(hours=rt.settings.policy.urgent_approval_h),
    )
    a = info.authorisation
    if a.urgent:
        state = f"urgent: in force now; must be approved by {when(a.approval_deadline)}"
    else:
        state = "pending: not in force until a supervisor approves it"
    out.print(f"authorisation [bold]{a.reference}[/] recorded ({state})")
    out.print(f"  approve: citywatch authorisations approve {a.reference}")


@auth_app.command("approve")
@requires(Permission.AUTHORISATIONS_DECIDE)
def auth_approve(ctx: typer.Context, reference: str, note: Annotated[str, typer.Option()] = "") -> None:
    """Approve a pending authorisation (a supervisor other than the one who recorded it)."""
    _decide(ctx, reference, AuthorisationStatus.APPROVED, note)


@auth_app.command("refuse")
@requires(Permission.AUTHORISATIONS_DECIDE)
def auth_refuse(ctx: typer.Context, reference: str, note: Annotated[str, typer.Option()] = "") -> None:
    """Refuse a pending authorisation; if it was urgent, what was derived under it is deleted."""
    _decide(ctx, reference, AuthorisationStatus.REFUSED, note)


@auth_app.command("revoke")
@requires(Permission.AUTHORISATIONS_DECIDE)
def auth_revoke(ctx: typer.Context, reference: str, note: Annotated[str, typer.Option()] = "") -> None:
    """End an authorisation now; its watchlists' templates are deleted."""
    _decide(ctx, reference, AuthorisationStatus.REVOKED, note)


def _decide(ctx: typer.Context, reference: str, status: AuthorisationStatus, note: str) -> None:
    rt = runtime(ctx)
    info = rt.governance.decide(reference, status, by=rt.actor, note=note)
    out.print(f"authorisation {reference}: {info.authorisation.status} by {info.decided_by}")
    for receipt in rt.governance.enforce():
        out.print(
            f"authorisation {receipt.authorisation} closed ({receipt.reason}): deleted "
            f"{receipt.sightings} sighting(s) and {receipt.templates} template(s); receipt in the audit log"
        )


@auth_app.command("bind")
@requires(Permission.WATCHLISTS_MANAGE)
def auth_bind(ctx: typer.Context, watchlist: str, reference: str) -> None:
    """Bind a watchlist to an authorisation: matching against it happens under that authorisation."""
    rt = runtime(ctx)
    rt.governance.bind_watchlist(watchlist, reference, by=rt.actor)
    out.print(f"watchlist {watchlist} bound to authorisation {reference}")


@auth_app.command("list")
@requires(Permission.AUTHORISATIONS_READ)
def auth_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List authorisations with their state now."""
    rt = runtime(ctx)
    now = datetime.now(UTC)
    infos = rt.governance.authorisations()
    if as_json:
        for info in infos:
            emit_json("authorisation", {**_row(info, now)})
        return
    table(
        "authorisations",
        ["ref", "state", "issuer", "objective", "cameras", "watchlists", "from", "until", "decided by"],
        [list(_row(info, now).values()) for info in infos],
    )


@auth_app.command("enforce")
@requires(Permission.AUTHORISATIONS_DECIDE)
def auth_enforce(ctx: typer.Context) -> None:
    """Close ended authorisations now (running cameras do it every few seconds)."""
    receipts = runtime(ctx).governance.enforce()
    for r in receipts:
        out.print(
            f"{r.authorisation} ({r.reason}): {r.sightings} sighting(s), {r.templates} template(s) deleted"
        )
    if not receipts:
        out.print("nothing to close")


def _row(info: AuthorisationInfo, now: datetime) -> dict[str, object]:
    a = info.authorisation
    state = "closed" if info.closed_at else "in force" if a.in_force(now) else str(a.status)
    if a.urgent and a.status is AuthorisationStatus.PENDING and not info.closed_at:
        state += f" (urgent, approve by {when(a.approval_deadline)})"
    return {
        "ref": a.reference,
        "state": state,
        "issuer": a.issuer,
        "objective": a.objective,
        "cameras": ", ".join(sorted(a.cameras)),
        "watchlists": ", ".join(sorted(a.watchlists)),
        "from": when(a.window.start),
        "until": when(a.window.end),
        "decided_by": info.decided_by or "",
    }
