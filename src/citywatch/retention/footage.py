"""Clips of recorded footage: a camera's segments between two times cut into one file,
recorded (by the caller's `publish`) before the file appears. A clip opened for a case names
the authorisation it is opened under, checked (`clip_basis`) before its audit record claims it.

Privacy fails closed (`clip_in_clear`, `cut_clip`): a clip shows faces only when a case and
an authorisation that names the camera open it, or when the camera identified, under the
policy on record and as recorded when it happened (`camera.mode`), at every moment of the
window. Any other clip is re-encoded with every
frame obscured whole (services.redaction.obscure), not just the faces a detector found."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from citywatch.audit.hooks import Audit
from citywatch.audit.log import AuditLog
from citywatch.audit.looks import require_camera
from citywatch.config.ingest import CameraSettings
from citywatch.domain.access import Permission
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import InvalidInput, NotFound, PermissionDenied, Unavailable
from citywatch.domain.footage import Segment
from citywatch.domain.policy import ALWAYS, CameraPlace, PolicySnapshot, ProcessingMode, mode_for
from citywatch.domain.values import page_of
from citywatch.governance.policy import PolicyService
from citywatch.governance.service import GovernanceService
from citywatch.media.clips import ClipPart, write_clip
from citywatch.media.redaction import obscure
from citywatch.media.video import rewrite_video
from citywatch.retention.segments import FootageStore, describe_os_error, sync_and_hash, unlink_quietly
from citywatch.search.photo import authorisation_problem, find_authorisation
from citywatch.store.blobs import fsync_dir, make_dirs
from citywatch.store.staging import WORK_FOLDER


@dataclass(frozen=True, slots=True)
class Clips:
    """What cutting a clip for someone draws on (`clip_basis`, `clip_in_clear`, `cut_clip`)."""

    footage: FootageStore
    cameras: Sequence[CameraSettings]
    """The configured cameras (their mode and place, for the policy)."""
    policy: PolicyService
    """The policy on record, asked whether a camera identified throughout a window."""
    audit_log: AuditLog
    """Where the cameras' mode changes were recorded when they happened (`camera.mode`)."""
    governance: GovernanceService
    """The authorisations a clip opened for a case names."""
    audit: Audit
    """Records a refused clip as the person asking."""
    data_dir: Path
    """Whose private working folder holds a cut before it is obscured."""


@dataclass(frozen=True, slots=True)
class ClipExport:
    camera_id: str
    since: datetime
    until: datetime
    """The window asked for."""
    started_at: datetime
    ended_at: datetime
    """The footage the clip holds: from the keyframe at or before `since` to the last frame
    before `until`."""
    segment_ids: tuple[int, ...]
    path: Path
    size: int
    sha256: str
    blurred: bool = False
    """Every frame obscured whole (`cut_clip`): no rule vouched for showing its faces."""

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def export_clip(
    footage: FootageStore,
    camera_id: str,
    since: datetime,
    until: datetime,
    out: Path,
    *,
    configured: bool,
    publish: Callable[[ClipExport], None],
    overwrite: bool = False,
) -> ClipExport:
    """Cut `camera_id`'s footage from `since` to `until` into the MP4 file `out`, by stream copy
    across segment boundaries. `configured` says whether the camera is in the configuration
    (a camera that is not, and has no footage either, is unknown). `publish` is called with
    the finished clip before it is renamed into place: when it raises (the audit log cannot
    be written), no clip appears.

    Raises `InvalidInput` for a reversed or empty window or an existing `out`, `NotFound` for
    an unknown camera, a window without footage or a segment file gone missing, `Unavailable`
    when the clip cannot be written.
    """
    segments = _window_segments(footage, camera_id, since, until, configured=configured)
    target = _target(out, overwrite=overwrite)
    temp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with ExitStack() as files:
            parts, ids = _clip_parts(footage, segments, files, work=target.parent)
            span = write_clip(parts, since, until, temp)
        if span is None:
            raise NotFound(
                f"no footage of camera {camera_id} between {since.isoformat()} and {until.isoformat()}"
            )
        size, digest = sync_and_hash(temp)
        export = ClipExport(
            camera_id=camera_id,
            since=since,
            until=until,
            started_at=span.started_at,
            ended_at=span.ended_at,
            segment_ids=tuple(ids[label] for label in span.parts),
            path=target,
            size=size,
            sha256=digest,
        )
        publish(export)
        os.replace(temp, target)
        fsync_dir(target.parent)
    except OSError as exc:  # PyAV's errors are OSErrors too
        raise Unavailable(f"{describe_os_error(exc)} while writing the clip {out}") from exc
    finally:
        if temp.exists():
            unlink_quietly(temp)
    return export


def _window_segments(
    footage: FootageStore, camera_id: str, since: datetime, until: datetime, *, configured: bool
) -> list[Segment]:
    """The segments `export_clip` cuts from, refusing a reversed window, an unknown camera or none."""
    if since >= until:
        raise InvalidInput(
            f"the window must start before it ends: START {since.isoformat()} is not before "
            f"END {until.isoformat()}"
        )
    segments = footage.segments(camera_id, since, until)
    if not segments:
        if not configured and not footage.has_footage(camera_id):
            raise NotFound(f"unknown camera {camera_id!r}: it is not configured and has no recorded footage")
        raise NotFound(
            f"no footage of camera {camera_id} between {since.isoformat()} and {until.isoformat()}"
        )
    return segments


def _clip_parts(
    footage: FootageStore, segments: Sequence[Segment], files: ExitStack, *, work: Path
) -> tuple[list[ClipPart], dict[str, int]]:
    """The segments' files (copies from the archive in `work`, kept until `files` closes) as
    labelled clip parts, with each label's segment id; NotFound if one is gone."""
    parts: list[ClipPart] = []
    ids: dict[str, int] = {}
    for segment in segments:
        path = files.enter_context(footage.local_file(segment, work))
        label = f"segment #{segment.id}"
        ids[label] = segment.id
        parts.append(ClipPart(path, segment.started_at, label))
    return parts, ids


def _target(out: Path, *, overwrite: bool) -> Path:
    target = out.absolute()
    if target.is_dir():
        raise InvalidInput(f"{out} is a folder; give a file name for the clip")
    if target.exists() and not overwrite:
        raise InvalidInput(f"{out} already exists (use --force to overwrite it)")
    if not target.parent.is_dir():
        raise InvalidInput(f"{target.parent}: no such folder for the clip")
    return target


def clip_in_clear(
    clips: Clips, camera_id: str, since: datetime, until: datetime, *, case: str, authorisation: str
) -> bool:
    """Whether a clip of `camera_id` over [since, until) may show faces: a case opened under an
    authorisation (which `clip_basis` checks first) names it, or the camera identified at every
    moment of the window under the policy on record (`mode_for` at the window's start and at
    every rule, event or authorisation boundary inside it). A camera that recorded or only
    detected, one not configured, or identification off for any part of the window: False."""
    if case and authorisation:
        return True
    camera = next((c for c in clips.cameras if c.id == camera_id), None)
    if camera is None:
        return False
    place = CameraPlace(camera.id, camera.mode, camera.geo)
    policy = clips.policy.snapshot()
    if not all(mode_for(place, policy, at).mode.identifies for at in _moments(policy, since, until)):
        return False
    return identified_on_record(_recorded_modes(clips.audit_log, camera_id, until), since)


def identified_on_record(modes: Iterable[tuple[datetime, ProcessingMode]], since: datetime) -> bool:
    """Whether the camera's mode changes as recorded when they happened (`camera.mode` audit
    records, newest first, up to the window's end) show it identifying from `since` on: the
    mode in force at `since` and every mode after it identify. Today's configuration and
    policy may differ from what was in force then (a camera reconfigured, a rule deleted); no
    record in force at `since` (the pipeline had not decided yet, or never ran) vouches for
    nothing. Pure."""
    for at, mode in modes:
        if not mode.identifies:
            return False
        if at <= since:
            return True
    return False


def _recorded_modes(
    audit_log: AuditLog, camera_id: str, until: datetime
) -> Iterator[tuple[datetime, ProcessingMode]]:
    """The camera's `camera.mode` records before `until`, newest first, a page at a time."""
    before: int | None = None
    while True:
        page = audit_log.page(
            limit=_PAGE, before=before, action=Action.CAMERA_MODE, object=f"camera:{camera_id}", until=until
        )
        for entry in page:
            yield datetime.fromisoformat(entry.at), ProcessingMode(entry.params["mode"])
        if len(page) < _PAGE:
            return
        before = page[-1].seq


_PAGE = 200


def _moments(policy: PolicySnapshot, since: datetime, until: datetime) -> list[datetime]:
    """`since` and every time in the window at which a rule, event or authorisation starts,
    ends or reaches its approval deadline: between them a camera's mode cannot change."""
    windows = [
        *(r.window for r in policy.rules),
        *(e.window for e in policy.events),
        *(a.window for a in policy.authorisations),
    ]
    edges = {since, *(w.start for w in windows), *(w.end for w in windows)}
    edges |= {a.approval_deadline for a in policy.authorisations}
    return sorted(t for t in edges if t is not None and since <= t < until)


def cut_clip(
    clips: Clips,
    camera_id: str,
    since: datetime,
    until: datetime,
    out: Path,
    *,
    clear: bool,
    publish: Callable[[ClipExport], None],
    overwrite: bool = False,
) -> ClipExport:
    """`export_clip` of `clips.footage` when the clip may show faces (`clear`, from
    `clip_in_clear`); otherwise the cut, made in the data folder's private working folder,
    re-encoded with every frame obscured whole into `out`, and `publish`ed (blurred, with
    the obscured file's digest) before it appears. The unobscured cut never leaves the data
    folder."""
    configured = any(c.id == camera_id for c in clips.cameras)
    if clear:
        return export_clip(
            clips.footage,
            camera_id,
            since,
            until,
            out,
            configured=configured,
            publish=publish,
            overwrite=overwrite,
        )
    target = _target(out, overwrite=overwrite)
    work = clips.data_dir / WORK_FOLDER
    make_dirs(work)
    with tempfile.TemporaryDirectory(dir=work, prefix="clip-raw-") as folder:
        raw = export_clip(
            clips.footage,
            camera_id,
            since,
            until,
            Path(folder) / "raw.mp4",
            configured=configured,
            publish=lambda _c: None,  # the obscured clip, not this cut, is what is recorded
        )
        temp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            rewrite_video(raw.path, temp, lambda _i, image: obscure(image))
            size, digest = sync_and_hash(temp)
            export = replace(raw, path=target, size=size, sha256=digest, blurred=True)
            publish(export)
            os.replace(temp, target)
            fsync_dir(target.parent)
        except OSError as exc:
            raise Unavailable(f"{describe_os_error(exc)} while obscuring the clip {out}") from exc
        finally:
            if temp.exists():
                unlink_quietly(temp)
    return export


def clip_basis(
    clips: Clips,
    camera_id: str,
    since: datetime,
    until: datetime,
    *,
    case: str,
    authorisation: str,
    by: Actor,
) -> None:
    """Check the legal basis a clip claims before its audit record claims it: a `case` needs
    an `authorisation`, and a named authorisation must be on record, in force, approved and
    name `camera_id`, the same rule (and words) case search applies. Neither named: nothing to
    check. A refusal is audited (`clip.refused`, with the reason) and raised: `InvalidInput`
    for a case without an authorisation, `NotFound` for one not on record, `PermissionDenied`
    for one that does not cover the camera now. The clip's window is not held to the
    authorisation's (the console pads a sighting's)."""
    if not case and not authorisation:
        return
    error: type[InvalidInput | NotFound | PermissionDenied]
    if not authorisation:
        error, problem = InvalidInput, "a clip opened for a case names the authorisation it is opened under"
    elif (found := find_authorisation(clips.governance, authorisation)) is None:
        error, problem = NotFound, f"no authorisation {authorisation!r} is on record"
    else:
        error = PermissionDenied
        if (lacking := authorisation_problem(found, [camera_id], ALWAYS, datetime.now(UTC))) is None:
            return
        problem = lacking
    params = {"since": since.isoformat(), "until": until.isoformat(), "reason": problem}
    refused = AuditEvent(
        Action.CLIP_REFUSED, f"camera:{camera_id}", authorisation=authorisation, case=case, params=params
    )
    clips.audit(refused, by)
    raise error(f"clip refused: {problem}")


def clip_event(
    export: ClipExport, *, delivered_as: str, case: str = "", authorisation: str = ""
) -> AuditEvent:
    """The audit record of a clip cut from footage (`clip.export`): the window asked for, the
    footage it holds, the segments used, where it went and its digest, and the case (and
    authorisation) it was opened for, if any. Written (by `publish`) before the clip can be
    read: `citywatch clip` and the API's clip route both record this."""
    return AuditEvent(
        Action.CLIP_EXPORT,
        f"camera:{export.camera_id}",
        authorisation=authorisation,
        case=case,
        params={
            "since": export.since.isoformat(),
            "until": export.until.isoformat(),
            "footage_from": export.started_at.isoformat(),
            "footage_until": export.ended_at.isoformat(),
            "segments": list(export.segment_ids),
            "file": delivered_as,
            "sha256": export.sha256,
            "blurred": export.blurred,
        },
        result_count=len(export.segment_ids),
    )


def view_recordings(
    clips: Clips,
    actor: Actor,
    camera: str,
    since: datetime,
    until: datetime,
    *,
    limit: int,
    before_id: int | None,
    asked: str,
) -> tuple[list[Segment], int | None]:
    """A page of `camera`'s footage segments that overlap [since, until), newest first, and
    the next page's cursor: the camera within `actor`'s scope (refused and audited otherwise).
    Audited (`recording.view`): which segments, by whom."""
    require_camera(clips.audit, actor, Permission.SIGHTINGS_READ, camera, asked)
    if since >= until:
        raise InvalidInput("the window must start before it ends")
    rows, next_before = page_of(
        clips.footage.segments(camera, since, until), lambda s: s.id, limit=limit, before_id=before_id
    )
    ids = [s.id for s in rows]
    params = {"since": since.isoformat(), "until": until.isoformat(), "ids": ids}
    clips.audit(
        AuditEvent(Action.RECORDING_VIEW, f"camera:{camera}", params=params, result_count=len(ids)), actor
    )
    return rows, next_before
