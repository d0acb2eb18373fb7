"""Sightings, alerts, search by photo and 1:1 verification."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from citywatch.alerts import views as alerts
from citywatch.alerts.review import CONFIRMATIONS_NEEDED
from citywatch.audit.looks import command
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, out, table, when
from citywatch.cli.permissions import require_cameras, requires
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.domain.records import AlertReview
from citywatch.domain.watchlists import AlertStatus
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import alert_views, case_searcher, sighting_views
from citywatch.search.cases import CaseSearch, case_search
from citywatch.sightings import views as sightings
from citywatch.watchlists.verification import verify as verify_photos

sightings_app = typer.Typer(help="Stored sightings.", no_args_is_help=True)
alerts_app = typer.Typer(help="Raised alerts.", no_args_is_help=True)

_RELATIVE = re.compile(r"^(\+?)(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_when(text: str | None, now: datetime | None = None) -> datetime | None:
    """ISO 8601 (naive means local time), an age such as `30m`, `2h`, `5d` (that long ago),
    or `+2h`, `+1d` (that long from now)."""
    if text is None:
        return None
    now = now or datetime.now(UTC)
    if m := _RELATIVE.match(text.strip()):
        delta = timedelta(seconds=float(m.group(2)) * _UNIT_S[m.group(3)])
        return now + delta if m.group(1) else now - delta
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text!r}: not a time (use ISO 8601 like 2026-11-27T08:00, an age like 2h, or +2h from now)"
        ) from None
    return value.astimezone(UTC) if value.tzinfo is None else value


@requires(Permission.CASE_SEARCH)
def search(
    ctx: typer.Context,
    photo: Annotated[Path, typer.Argument(help="Photo of the face to look for (one face).")],
    case: Annotated[str, typer.Option(help="Case id the search belongs to.")] = "",
    legal_basis: Annotated[str, typer.Option(help="Legal basis of the case.")] = "",
    authorisation: Annotated[
        str, typer.Option(help="Reference of the authorisation in force that names the cameras.")
    ] = "",
    cameras: Annotated[str, typer.Option(help="Comma-separated camera ids (required).")] = "",
    since: Annotated[str | None, typer.Option(help="Window start: ISO time or age (e.g. 2h).")] = None,
    until: Annotated[str | None, typer.Option(help="Window end: ISO time or age (default now).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, max=10_000)] = None,
    threshold: Annotated[
        float | None, typer.Option(min=0.05, max=2.0, help="Farthest distance shown.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Find the stored sightings of the face in PHOTO inside a case: named cameras and a
    bounded time window; untargeted searches are refused."""
    rt = runtime(ctx)
    chosen = [c.strip() for c in cameras.split(",") if c.strip()]
    require_cameras(rt, Permission.CASE_SEARCH, chosen, ctx.command_path)
    asked = CaseSearch(
        case=case,
        legal_basis=legal_basis,
        authorisation=authorisation,
        cameras=chosen,
        since=parse_when(since),
        until=parse_when(until),
        limit=limit,
        threshold=threshold,
    )
    hits = case_search(case_searcher(rt), photo, asked, by=rt.actor)
    if as_json:
        for h in hits:
            emit_json("hit", h)
        return
    table(
        f"{len(hits)} sighting(s) of the face in {photo}",
        ["rank", "sighting", "camera", "start", "end", "distance", "quality", "crop"],
        [
            [
                h.rank,
                h.sighting_id,
                h.camera_id,
                when(h.started_at),
                when(h.ended_at),
                f"{h.distance:.3f}",
                f"{h.quality:.2f}",
                h.crop_path,
            ]
            for h in hits
        ],
    )


@requires(Permission.FACES_VERIFY)
def verify(
    ctx: typer.Context,
    image_a: Path,
    image_b: Path,
    threshold: Annotated[float | None, typer.Option(min=0.05, max=2.0)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Say whether two photos show the same person: distance, threshold, decision."""
    rt = runtime(ctx)
    v = verify_photos(
        image_a,
        image_b,
        detector=rt.detector,
        embedder=rt.embedder,
        quality=rt.settings.quality,
        threshold=threshold or rt.settings.matching.verify_threshold,
    )
    if as_json:
        emit_json("verification", v)
        return
    verdict = "[bold green]same person[/]" if v.same_person else "[bold]different people[/]"
    out.print(f"distance {v.distance:.4f}, threshold {v.threshold:.4f} ({v.model}): {verdict}")


@sightings_app.command("list")
@requires(Permission.SIGHTINGS_READ)
def sightings_list(
    ctx: typer.Context,
    camera: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List the latest sightings."""
    rt = runtime(ctx)
    if camera is not None:
        require_cameras(rt, Permission.SIGHTINGS_READ, [camera], ctx.command_path)
    rows = sightings.view_latest(
        sighting_views(rt), rt.actor, limit=limit, camera=camera, asked=command(ctx.command_path)
    )
    table(
        f"{len(rows)} sighting(s)",
        ["id", "camera", "start", "end", "det", "quality", "person", "distance", "decision", "crop"],
        [
            [
                s.id,
                s.camera_id,
                when(s.started_at),
                when(s.ended_at),
                s.detections,
                f"{s.quality:.2f}",
                s.person_name,
                None if s.distance is None else f"{s.distance:.3f}",
                s.decision,
                s.crop_path,
            ]
            for s in rows
        ],
    )


@alerts_app.command("list")
@requires(Permission.ALERTS_READ)
def alerts_list(
    ctx: typer.Context,
    status: Annotated[AlertStatus | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the latest alerts."""
    rt = runtime(ctx)
    rows = alerts.view_page(
        alert_views(rt), rt.actor, limit=limit, status=status, asked=command(ctx.command_path)
    )
    if as_json:
        for a in rows:
            emit_json("alert", a)
        return
    table(
        f"{len(rows)} alert(s)",
        [
            "id",
            "time",
            "camera",
            "person",
            "watchlist",
            "severity",
            "distance",
            "status",
            "acknowledged",
            "decided",
            "sighting",
        ],
        [
            [
                a.id,
                when(a.created_at),
                a.camera_id,
                a.person_name,
                a.watchlist_name,
                a.severity,
                f"{a.distance:.3f}",
                a.status if a.dismiss_reason is None else f"{a.status}: {a.dismiss_reason}",
                _who_when(a.acknowledged_by, a.acknowledged_at),
                _who_when(a.decided_by, a.decided_at),
                a.sighting_id,
            ]
            for a in rows
        ],
    )


def _who_when(who: str | None, at: datetime | None) -> str | None:
    return None if who is None else f"{who} {when(at)}"


def _reviewed(review: AlertReview, verb: str) -> None:
    a = review.alert
    out.print(f"alert {a.id} ({a.person_name} on {a.camera_id}) {verb}: now {a.status}")


def _acting(ctx: typer.Context, alert_id: int) -> Runtime:
    """The runtime, once the alert's camera is known to be within the user's scope: a refusal
    (audited, exit 5) names the camera, never the person."""
    rt = runtime(ctx)
    require_cameras(rt, Permission.ALERTS_ACT, [rt.alert_reviews.camera_of(alert_id)], ctx.command_path)
    return rt


@alerts_app.command("acknowledge")
@requires(Permission.ALERTS_ACT)
def alerts_acknowledge(ctx: typer.Context, alert_id: int) -> None:
    """Say that you are looking at an alert (new → acknowledged)."""
    rt = _acting(ctx, alert_id)
    _reviewed(rt.alert_reviews.acknowledge(alert_id, rt.actor), "acknowledged")


@alerts_app.command("confirm")
@requires(Permission.ALERTS_ACT)
def alerts_confirm(ctx: typer.Context, alert_id: int) -> None:
    """Confirm that an alert is a true match; it is confirmed once a second, different
    person confirms it too (two-person rule)."""
    rt = _acting(ctx, alert_id)
    review = rt.alert_reviews.confirm(alert_id, rt.actor)
    _reviewed(review, "confirmed by you")
    if review.alert.status is not AlertStatus.CONFIRMED:
        out.print(
            f"{len(review.confirmed_by)} of {CONFIRMATIONS_NEEDED} confirmations; "
            f"a second person must confirm: citywatch alerts confirm {alert_id}"
        )


@alerts_app.command("dismiss")
@requires(Permission.ALERTS_ACT)
def alerts_dismiss(
    ctx: typer.Context,
    alert_id: int,
    reason: Annotated[
        str, typer.Option(help="Why (e.g. 'not the same person'); kept in the audit log.")
    ] = "",
    false_match: Annotated[
        bool,
        typer.Option(
            "--false-match",
            help="It was not this person: remember the face, so that it does not alert for them again.",
        ),
    ] = False,
) -> None:
    """Dismiss an alert (a wrong match, or nothing to act on); final. With --false-match the
    sighting's face is remembered as not the person, until the templates' retention ends."""
    rt = _acting(ctx, alert_id)
    review = rt.alert_reviews.dismiss(alert_id, rt.actor, reason, false_match=false_match)
    _reviewed(review, "dismissed")
    if review.non_match_id is not None:
        out.print(
            f"remembered as not {review.alert.person_name} (non-match {review.non_match_id}): "
            "this face no longer alerts for them"
        )
    elif false_match:
        out.print(f"nothing remembered: {review.not_remembered}")
