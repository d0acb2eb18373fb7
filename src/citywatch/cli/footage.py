"""`clip`: a camera's recorded footage between two times, cut into one file and audited."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, out, plain, when
from citywatch.cli.permissions import require_cameras, requires
from citywatch.cli.records import parse_when
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.retention.footage import ClipExport, clip_basis, clip_event, clip_in_clear, cut_clip
from citywatch.runtime.usecases import clips


def _time(text: str, what: str) -> datetime:
    value = parse_when(text)
    if value is None:  # pragma: no cover - parse_when returns None only for None
        raise InvalidInput(f"{what} is missing")
    return value


@requires(Permission.SIGHTINGS_READ)
def clip(
    ctx: typer.Context,
    camera: Annotated[str, typer.Argument(help="Camera id.")],
    start: Annotated[str, typer.Argument(help="Window start: ISO time (naive = local) or an age (e.g. 2h).")],
    end: Annotated[str, typer.Argument(help="Window end: ISO time or an age (e.g. 1h).")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="MP4 file to write (default: clip-CAMERA-START-END.mp4 here)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    case: Annotated[str, typer.Option("--case", help="The case the clip is opened for (audited).")] = "",
    authorisation: Annotated[
        str,
        typer.Option(
            "--authorisation",
            help="The authorisation the case runs under: in force, approved, naming the camera.",
        ),
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Cut CAMERA's recorded footage from START to END into one MP4 (copied, not re-encoded,
    across segment boundaries; it starts at the keyframe at or before START). Audited as
    `clip.export` with the window and the segments used. Faces show only in a clip opened for
    a --case under an --authorisation naming the camera, or of a camera that identified
    throughout the window; any other clip has every frame obscured whole (re-encoded)."""
    rt = runtime(ctx)
    require_cameras(rt, Permission.SIGHTINGS_READ, [camera], ctx.command_path)
    since, until = _time(start, "START"), _time(end, "END")
    target = out_file or Path(f"clip-{camera}-{since:%Y%m%dT%H%M%SZ}-{until:%Y%m%dT%H%M%SZ}.mp4")

    cutting = clips(rt)
    clip_basis(cutting, camera, since, until, case=case, authorisation=authorisation, by=rt.actor)
    clear = clip_in_clear(cutting, camera, since, until, case=case, authorisation=authorisation)

    def publish(export: ClipExport) -> None:
        rt.audit(clip_event(export, delivered_as=str(export.path), case=case, authorisation=authorisation))

    export = cut_clip(cutting, camera, since, until, target, clear=clear, publish=publish, overwrite=force)
    if as_json:
        emit_json("clip", {**plain(export), "duration_s": export.duration_s})
        return
    out.print(
        f"wrote {export.path}: camera {camera}, {when(export.started_at)} to {when(export.ended_at)} "
        f"({export.duration_s:.1f} s from {len(export.segment_ids)} segment(s)), "
        f"{export.size} bytes, SHA-256 {export.sha256}"
        + (
            "; every frame blurred: the camera did not identify then, and no --case and "
            "--authorisation opened it"
            if export.blurred
            else ""
        )
    )
