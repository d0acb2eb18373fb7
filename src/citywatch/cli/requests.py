"""Requests for footage (law enforcement; the public files through the web form) and the
export packages that fulfil them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citywatch.audit.keys import load_public
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, err, out, progress_bar, table, when
from citywatch.cli.permissions import requires
from citywatch.cli.records import parse_when
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import Window
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.requests.export_store import EXPORTS_FOLDER
from citywatch.requests.exports import verify_export
from citywatch.requests.fulfil import fulfil
from citywatch.requests.records import NewRequest, RequestInfo
from citywatch.requests.subject_access import SubjectSearch, file_subject_access
from citywatch.runtime.usecases import audit_of, fulfilment, subject_access

request_app = typer.Typer(
    help="Requests for footage: file, review, approve or refuse, close.", no_args_is_help=True
)
export_app = typer.Typer(help="Export packages: check one offline.", no_args_is_help=True)


@request_app.command("file")
@requires(Permission.REQUESTS_FILE)
def request_file(
    ctx: typer.Context,
    requester: Annotated[str, typer.Option(help="Who is asking: agency and officer, or the person.")],
    camera: Annotated[list[str], typer.Option("--camera", "-c", help="Camera (repeat).")],
    start: Annotated[str, typer.Option("--from", help="Window start (ISO time or age, e.g. 3h).")],
    end: Annotated[str, typer.Option("--until", help="Window end (ISO time or age).")],
    reference: Annotated[
        str | None,
        typer.Option(help="The agency's case reference (a subject-access request gets its own)."),
    ] = None,
    photo: Annotated[
        Path | None,
        typer.Option(
            help="A subject-access request: the requester's own photo (one face). The system "
            "searches for them and holds the cameras' footage over the window, found or not."
        ),
    ] = None,
    contact: Annotated[str, typer.Option(help="How to reach the requester.")] = "",
) -> None:
    """File a request. Law enforcement (--reference): the footage and sightings in scope are
    held at once. Subject access (--photo): the requester's appearances are found and held."""
    rt = runtime(ctx)
    since, until = parse_when(start), parse_when(end)
    if since is None or until is None:
        raise InvalidInput("a request needs --from and --until")
    if photo is not None:
        if reference is not None:
            raise InvalidInput("a subject-access request (--photo) gets its own reference; drop --reference")
        with progress_bar("searching footage segments for the requester") as progress:
            info, found = file_subject_access(
                subject_access(rt),
                requester=requester,
                contact=contact,
                cameras=camera,
                window=Window(since, until),
                photo=photo,
                by=rt.actor,
                progress=progress,
            )
        _filed_subject(info, found)
        return
    if reference is None:
        raise InvalidInput(
            "a law-enforcement request needs the agency's --reference (or --photo for subject access)"
        )
    info = rt.requests.file(
        NewRequest(RequestKind.LAW_ENFORCEMENT, reference, requester, contact, camera, Window(since, until)),
        by=rt.actor,
        known_cameras=rt.known_cameras(camera),
    )
    out.print(
        f"request {info.id} filed ({info.reference}): {', '.join(info.cameras)} from {when(since)} to "
        f"{when(until)} held (hold {info.hold_id}); answer due by {when(info.deadline)}"
    )


@request_app.command("list")
@requires(Permission.REQUESTS_READ)
def request_list(
    ctx: typer.Context,
    status: Annotated[RequestStatus | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Requests and where each stands; limited to some cameras, those wholly within them."""
    rt = runtime(ctx)
    infos = rt.requests.list(status, visible_to=rt.actor)
    if as_json:
        for i in infos:
            emit_json("request", i)
        return
    table(
        "requests",
        ["id", "kind", "status", "reference", "requester", "cameras", "from", "until", "due", "export"],
        [
            [
                i.id,
                i.kind,
                i.status,
                i.reference,
                i.requester,
                ", ".join(i.cameras),
                when(i.window.start),
                when(i.window.end),
                when(i.deadline),
                i.export_id,
            ]
            for i in infos
        ],
    )


@request_app.command("review")
@requires(Permission.REQUESTS_DECIDE)
def request_review(ctx: typer.Context, request_id: int) -> None:
    """Take a request into review."""
    rt = runtime(ctx)
    _said(rt.requests.review(request_id, by=rt.actor))


@request_app.command("approve")
@requires(Permission.REQUESTS_DECIDE)
def request_approve(ctx: typer.Context, request_id: int) -> None:
    """Approve a request (a supervisor other than its filer) and produce its export package."""
    rt = runtime(ctx)
    rt.requests.approve(request_id, by=rt.actor)
    info = fulfil(fulfilment(rt), request_id, by=rt.actor)
    _said(info)
    path = rt.settings.data_dir / EXPORTS_FOLDER
    out.print(f"export {info.export_id} written under {path}; check it with `citywatch export verify FILE`")


@request_app.command("fulfil")
@requires(Permission.REQUESTS_DECIDE)
def request_fulfil(ctx: typer.Context, request_id: int) -> None:
    """Produce the export of an approved request again (after a failure, e.g. a full disk)."""
    rt = runtime(ctx)
    info = fulfil(fulfilment(rt), request_id, by=rt.actor)
    _said(info)


@request_app.command("refuse")
@requires(Permission.REQUESTS_DECIDE)
def request_refuse(
    ctx: typer.Context, request_id: int, reason: Annotated[str, typer.Option(help="Why, for the requester.")]
) -> None:
    """Refuse a request, with its reason; its hold is released (receipt)."""
    rt = runtime(ctx)
    _said(rt.requests.refuse(request_id, reason, by=rt.actor))


@request_app.command("close")
@requires(Permission.REQUESTS_DECIDE)
def request_close(ctx: typer.Context, request_id: int) -> None:
    """Close a fulfilled or refused request; its hold is released (receipt)."""
    rt = runtime(ctx)
    _said(rt.requests.close(request_id, by=rt.actor))


@export_app.command("verify")
@requires(Permission.EXPORTS_VERIFY)
def export_verify(
    ctx: typer.Context,
    package: Annotated[Path, typer.Argument(help="The export zip.")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="The instance's public key (`citywatch audit export-key`); default: this instance's."
        ),
    ] = None,
) -> None:
    """Check an export's signature and every file in it; exit 1 and name the first problem."""
    rt = runtime(ctx)
    key = load_public(public_key) if public_key else None
    verdict = verify_export(
        rt.settings.data_dir,
        audit_of(rt),
        package,
        by=rt.actor,
        what=f"export-file:{package.name}",
        public_key=key,
    )
    if not verdict.ok:
        err.print(f"[red]export NOT intact[/]: {verdict.problem}")
        raise typer.Exit(1)
    out.print(f"export intact: {verdict.files} file(s), signature verified ({verdict.reference})")


def _said(info: RequestInfo) -> None:
    extra = f": {info.refusal_reason}" if info.refusal_reason else ""
    out.print(f"request {info.id} ({info.reference}) is now {info.status}{extra}")


def _filed_subject(info: RequestInfo, found: SubjectSearch) -> None:
    """Counts only: filing is not a search anyone can read; where and when the requester was
    seen goes to them in the approved export."""
    if not found.appearances:
        out.print(
            f"request {info.id} filed ({info.reference}): the requester was not found in "
            f"{found.frames_scanned} frame(s) of footage or in stored sightings of "
            f"{', '.join(info.cameras)}; their footage over the window is held as for any request "
            f"(hold {info.hold_id}). Answer due by {when(info.deadline)}"
        )
    else:
        out.print(
            f"request {info.id} filed ({info.reference}): {len(found.appearances)} appearance(s) found; "
            f"{len(found.sightings)} sighting(s) and {len(found.recordings)} footage segment(s) held, "
            f"with the cameras' footage over the window (hold {info.hold_id}). "
            f"Answer due by {when(info.deadline)}"
        )
    if found.unreadable:
        err.print(f"[yellow]{found.unreadable} footage segment(s) could not be read and were not searched[/]")
