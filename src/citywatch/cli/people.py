"""Watchlists, persons and enrolment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from citywatch.changes.service import pending_hint
from citywatch.cli.context import runtime
from citywatch.cli.output import out, table, when
from citywatch.cli.permissions import requires
from citywatch.domain.access import Permission
from citywatch.domain.records import ChangeKind, PersonInfo, TuningResult
from citywatch.domain.watchlists import Severity, WatchlistCategory
from citywatch.watchlists.enrolment import Enrolment
from citywatch.watchlists.persons import update_person

persons_app = typer.Typer(help="List, show, update and remove enrolled persons.", no_args_is_help=True)
watchlists_app = typer.Typer(help="Create and list watchlists.", no_args_is_help=True)


@requires(Permission.WATCHLISTS_MANAGE)
def enroll(
    ctx: typer.Context,
    images: Annotated[list[Path], typer.Argument(help="Reference photos, one face each.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Display name of the person.")],
    source: Annotated[str, typer.Option(help="Where the images come from (e.g. 'warrant file 2026-114').")],
    legal_basis: Annotated[str, typer.Option(help="Legal basis for enrolling this person.")],
    watchlist: Annotated[str, typer.Option("--watchlist", "-w", help="Watchlist name.")] = "default",
    category: Annotated[WatchlistCategory, typer.Option(help="Category of a new watchlist.")] = (
        WatchlistCategory.WANTED
    ),
    notes: Annotated[str, typer.Option(help="Free-text notes.")] = "",
    person_id: Annotated[
        int | None, typer.Option(help="Add the images to this existing person instead.")
    ] = None,
) -> None:
    """Enrol a person on a watchlist from reference photos (each must show exactly one face).
    The person (or the new photos) is matched only once a second person approves the change."""
    rt = runtime(ctx)
    service = Enrolment(
        store=rt.watchlists, detector=rt.detector, embedder=rt.embedder, quality=rt.settings.quality
    )
    person = service.enroll(
        name=name,
        images=images,
        watchlist=watchlist,
        source=source,
        legal_basis=legal_basis,
        notes=notes,
        category=category,
        person_id=person_id,
        proposer=rt.actor,
    )
    out.print(
        f"enrolled [bold]{person.display_name}[/] (person {person.id}) on watchlist "
        f"{person.watchlist_name!r}: {person.templates} template(s)"
    )
    for change in rt.changes.list_changes(object=f"person:{person.id}"):
        if change.kind not in {ChangeKind.PERSON_ADD, ChangeKind.PERSON_REFERENCE}:
            continue
        what = "person" if change.kind is ChangeKind.PERSON_ADD else "new reference image(s) of person"
        out.print(f"{what} {person.id} pending approval, not matched until then; {pending_hint(change)}")


def _persons_table(persons: list[PersonInfo]) -> None:
    table(
        f"{len(persons)} person(s)",
        ["id", "name", "watchlist", "status", "images", "templates", "updated"],
        [
            [
                p.id,
                p.display_name,
                p.watchlist_name,
                p.status,
                p.reference_images,
                p.templates,
                when(p.updated_at),
            ]
            for p in persons
        ],
    )


@persons_app.command("list")
@requires(Permission.WATCHLISTS_READ)
def persons_list(
    ctx: typer.Context,
    watchlist: Annotated[str | None, typer.Option("--watchlist", "-w")] = None,
) -> None:
    """List enrolled persons."""
    _persons_table(runtime(ctx).watchlists.list_persons(watchlist))


@persons_app.command("show")
@requires(Permission.WATCHLISTS_READ)
def persons_show(ctx: typer.Context, person_id: int) -> None:
    """Show one person."""
    _persons_table([runtime(ctx).watchlists.get_person(person_id)])


@persons_app.command("update")
@requires(Permission.WATCHLISTS_MANAGE)
def persons_update(
    ctx: typer.Context,
    person_id: int,
    name: Annotated[str | None, typer.Option("--name", "-n")] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    watchlist: Annotated[str | None, typer.Option("--watchlist", "-w")] = None,
) -> None:
    """Change a person's name or notes (at once) or watchlist. Moving a person onto another
    watchlist adds a member to it, so it waits for a second person to approve."""
    rt = runtime(ctx)
    updated = update_person(
        rt.watchlists, rt.changes, person_id, name=name, notes=notes, watchlist=watchlist, by=rt.actor
    )
    _persons_table([updated.person])
    move = updated.move
    if move is not None:
        out.print(
            f"move of person {person_id} from watchlist {move.params['from']!r} to "
            f"{move.params['to']!r} pending approval; the person stays on {move.params['from']!r} "
            f"until then; {pending_hint(move)}"
        )


@persons_app.command("remove")
@requires(Permission.WATCHLISTS_MANAGE)
def persons_remove(
    ctx: typer.Context,
    person_id: int,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a person, their reference images and templates. Takes effect at once, with no
    second person: erasure never waits (the person's pending changes are withdrawn)."""
    store = runtime(ctx).watchlists
    person = store.get_person(person_id)
    if not yes:
        typer.confirm(f"Remove {person.display_name} and all their templates?", abort=True)
    receipt = store.remove_person(person_id)
    out.print(
        f"removed person {person_id}: {receipt.templates} template(s), "
        f"{receipt.reference_images} reference image(s), {receipt.blobs_unlinked} file(s) deleted"
    )


@watchlists_app.command("list")
@requires(Permission.WATCHLISTS_READ)
def watchlists_list(ctx: typer.Context) -> None:
    """List watchlists."""
    rt = runtime(ctx)
    m = rt.settings.matching
    table(
        "watchlists",
        ["id", "name", "category", "severity", "threshold", "margin", "active", "expires"],
        [
            [
                w.id,
                w.name,
                w.category,
                w.severity,
                w.threshold if w.threshold is not None else f"{m.threshold} (default)",
                w.margin if w.margin is not None else f"{m.margin} (default)",
                w.active,
                when(w.expires_at),
            ]
            for w in rt.watchlists.list_watchlists()
        ],
    )


@watchlists_app.command("create")
@requires(Permission.WATCHLISTS_MANAGE)
def watchlists_create(
    ctx: typer.Context,
    name: str,
    category: Annotated[WatchlistCategory, typer.Option()] = WatchlistCategory.WANTED,
    threshold: Annotated[float | None, typer.Option(min=0.01, max=2.0)] = None,
    margin: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    expires: Annotated[datetime | None, typer.Option(help="Expiry (ISO date/time).")] = None,
    severity: Annotated[Severity, typer.Option(help="What its alerts are raised at.")] = Severity.MEDIUM,
) -> None:
    """Create a watchlist. A threshold above the configured default, or a margin below it,
    would match more faces: the watchlist starts at the default and the looser value waits
    for a second person to approve. Stricter values apply at once."""
    if expires is not None and expires.tzinfo is None:
        expires = expires.astimezone(UTC)  # a naive time is the operator's local time
    rt = runtime(ctx)
    m = rt.settings.matching
    created = rt.changes.create_watchlist(
        rt.watchlists,
        name,
        rt.actor,
        category=category,
        threshold=threshold,
        margin=margin,
        expires_at=expires,
        severity=severity,
        default_threshold=m.threshold,
        default_margin=m.margin,
    )
    w = created.watchlist
    out.print(f"created watchlist {w.name!r} (id {w.id}); its alerts are raised at severity {w.severity}")
    for result in created.tuning:
        _tuned(result)


def _tuned(result: TuningResult) -> None:
    if result.change is None:
        out.print(
            f"applied: watchlist {result.watchlist!r} {result.setting} {result.before} → {result.requested}"
        )
    else:
        out.print(pending_hint(result.change))
        out.print(
            f"(watchlist {result.watchlist!r} {result.setting} stays {result.before} until then: "
            f"{result.requested} would match more faces)"
        )


@watchlists_app.command("set-threshold")
@requires(Permission.WATCHLISTS_MANAGE)
def watchlists_set_threshold(
    ctx: typer.Context,
    name: str,
    value: Annotated[float, typer.Argument(min=0.01, max=2.0, help="Largest distance that matches.")],
) -> None:
    """Set a watchlist's distance threshold. Lowering it (stricter) applies at once; raising
    it matches more faces, so it waits for a second person to approve."""
    rt = runtime(ctx)
    _tuned(rt.changes.set_threshold(name, value, rt.actor, default=rt.settings.matching.threshold))


@watchlists_app.command("set-margin")
@requires(Permission.WATCHLISTS_MANAGE)
def watchlists_set_margin(
    ctx: typer.Context,
    name: str,
    value: Annotated[float, typer.Argument(min=0.0, max=1.0, help="Required lead over the runner-up.")],
) -> None:
    """Set a watchlist's margin over the runner-up. Raising it (stricter) applies at once;
    lowering it matches more faces, so it waits for a second person to approve."""
    rt = runtime(ctx)
    _tuned(rt.changes.set_margin(name, value, rt.actor, default=rt.settings.matching.margin))


@watchlists_app.command("set-severity")
@requires(Permission.WATCHLISTS_MANAGE)
def watchlists_set_severity(
    ctx: typer.Context,
    name: str,
    level: Annotated[Severity, typer.Argument(help="low, medium, high or critical.")],
) -> None:
    """Set what a watchlist's alerts are raised at from now on (alerts already raised keep
    theirs). Applies at once: it changes how urgent an alert is, not who is matched."""
    w = runtime(ctx).watchlists.set_watchlist_severity(name, level)
    out.print(f"watchlist {w.name!r}: alerts are raised at severity {w.severity}")
