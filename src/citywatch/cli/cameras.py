"""`citywatch cameras`: the cameras of the city (the configuration file's and the camera
records'), and the records added, changed and removed; a running `citywatch run` picks a
change up within seconds. A source is never printed with its credentials."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import typer

from citywatch.cameras.records import CameraChange, CameraRecord, new_camera, shown_url
from citywatch.cli.context import runtime
from citywatch.cli.output import emit_json, err, out, table, when
from citywatch.cli.permissions import requires
from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import DEFAULT_MODE, ProcessingMode

cameras_app = typer.Typer(
    help="Cameras: the configuration file's and the camera records (add, change, remove).",
    no_args_is_help=True,
)

Location = Annotated[str | None, typer.Option(help="Where it stands: LAT,LON in degrees.")]
Source = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        help="A source setting as KEY=VALUE (detect_fps=5, replay=true, …); repeat for several.",
    ),
]
Version = Annotated[
    int | None, typer.Option(help="The version this is made against: refused if it changed since.")
]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@dataclass(frozen=True, slots=True)
class CameraLine:
    """A camera as the command line shows it (its source without credentials)."""

    id: str
    name: str
    source_url: str
    mode: str
    location: tuple[float, float] | None
    source: dict[str, object]
    from_config: bool
    version: int
    created_by: str
    changed_by: str
    changed_at: datetime | None

    @classmethod
    def of(cls, record: CameraRecord) -> CameraLine:
        camera = record.settings
        return cls(
            id=camera.id,
            name=camera.name,
            source_url=shown_url(camera.url),
            mode=str(camera.mode),
            location=camera.location,
            source=camera.source.model_dump(),
            from_config=record.from_config,
            version=record.version,
            created_by=record.created_by,
            changed_by=record.changed_by,
            changed_at=record.changed_at,
        )


@cameras_app.command("list")
@requires(Permission.POLICY_READ)
def cameras_list(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The cameras of the city within your scope: the configuration file's, then the records'."""
    rt = runtime(ctx)
    lines = [CameraLine.of(r) for r in rt.camera_records.cameras(seen_by=rt.actor)]
    if as_json:
        for line in lines:
            emit_json("camera", line)
        return
    table(
        "cameras",
        ["id", "name", "source", "mode", "location", "from", "version", "changed by", "changed at"],
        [
            [
                c.id,
                c.name,
                c.source_url,
                c.mode,
                "" if c.location is None else f"{c.location[0]}, {c.location[1]}",
                "configuration file" if c.from_config else "record",
                c.version,
                c.changed_by,
                when(c.changed_at),
            ]
            for c in lines
        ],
    )
    for camera_id in rt.camera_records.shadowed():
        err.print(
            f"[yellow]camera record {camera_id} is shadowed by the configuration file's camera of the "
            f"same id, which wins: remove the record (`citywatch cameras remove` refuses while the "
            f"file names it) or the file's camera[/]"
        )


@cameras_app.command("show")
@requires(Permission.POLICY_READ)
def cameras_show(ctx: typer.Context, camera_id: str, as_json: AsJson = False) -> None:
    """One camera: where it comes from, its source (without credentials), its settings."""
    rt = runtime(ctx)
    line = CameraLine.of(rt.camera_records.get(camera_id, seen_by=rt.actor))
    if as_json:
        emit_json("camera", line)
        return
    rows = [[k.replace("_", " "), v] for k, v in _shown(line).items()]
    table(f"camera {camera_id}", ["", ""], rows)


@cameras_app.command("add")
@requires(Permission.CAMERAS_MANAGE)
def cameras_add(
    ctx: typer.Context,
    camera_id: Annotated[str, typer.Argument(help="Stable id: letters, digits, _ . -.")],
    url: Annotated[
        str,
        typer.Argument(
            help="An rtsp(s):// or http(s):// stream, or a video file or image folder by its absolute "
            "path; `-` reads it from standard input (keeps a stream's password off the command line)."
        ),
    ],
    name: Annotated[str, typer.Option(help="Human-readable name.")] = "",
    mode: Annotated[ProcessingMode, typer.Option(help="The mode asked for; policy decides.")] = DEFAULT_MODE,
    location: Location = None,
    source: Source = None,
) -> None:
    """Add a camera record; a running `citywatch run` starts it within seconds."""
    rt = runtime(ctx)
    camera = new_camera(
        {
            "id": camera_id,
            "name": name,
            "url": _url(url),
            "mode": mode,
            "location": _location(location),
            "source": _settings(source),
        }
    )
    record = rt.camera_records.add(camera, by=rt.actor)
    out.print(
        f"camera {record.id} added (version {record.version}): {shown_url(camera.url)}, mode {camera.mode}; "
        "a running city starts it within seconds"
    )


@cameras_app.command("change")
@requires(Permission.CAMERAS_MANAGE)
def cameras_change(
    ctx: typer.Context,
    camera_id: str,
    url: Annotated[str | None, typer.Option(help="A new source (`-`: read from standard input).")] = None,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    mode: Annotated[ProcessingMode | None, typer.Option(help="A new mode asked for.")] = None,
    location: Location = None,
    no_location: Annotated[bool, typer.Option("--no-location", help="Take it off the map.")] = False,
    source: Source = None,
    version: Version = None,
) -> None:
    """Change a camera record; a running `citywatch run` restarts it within seconds."""
    rt = runtime(ctx)
    change = CameraChange(
        name=name,
        url=None if url is None else _url(url),
        mode=mode,
        location=_location(location),
        clear_location=no_location,
        source=_settings(source) or None,
    )
    record = rt.camera_records.change(camera_id, change, by=rt.actor, version=version)
    out.print(f"camera {record.id} is at version {record.version}")


@cameras_app.command("remove")
@requires(Permission.CAMERAS_MANAGE)
def cameras_remove(ctx: typer.Context, camera_id: str, version: Version = None) -> None:
    """Remove a camera record; a running `citywatch run` stops it within seconds. Its footage,
    sightings and alerts stay until their retention ends."""
    rt = runtime(ctx)
    removed = rt.camera_records.remove(camera_id, by=rt.actor, version=version)
    out.print(f"camera {camera_id} removed (it was at version {removed.record.version})")
    if removed.footage_kept:
        out.print(f"footage of {camera_id} is kept until its retention ends (holds keep theirs)")


def _shown(line: CameraLine) -> dict[str, object]:
    return {
        "name": line.name,
        "source url": line.source_url,
        "mode": line.mode,
        "location": "" if line.location is None else f"{line.location[0]}, {line.location[1]}",
        "from": "configuration file" if line.from_config else "record",
        "version": line.version,
        "created by": line.created_by,
        "changed by": line.changed_by,
        "changed at": when(line.changed_at),
        **{f"source {k}": v for k, v in line.source.items()},
    }


def _url(given: str) -> str:
    return sys.stdin.readline().strip() if given == "-" else given


def _location(given: str | None) -> tuple[float, float] | None:
    if given is None:
        return None
    try:
        lat, lon = (float(part) for part in given.split(","))
    except ValueError:
        raise InvalidInput(f"--location {given!r}: give LAT,LON in degrees") from None
    return lat, lon


def _settings(pairs: list[str] | None) -> dict[str, object]:
    found: dict[str, object] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--source {pair!r}: give KEY=VALUE (e.g. detect_fps=5)")
        found[key.strip()] = value.strip()
    return found
