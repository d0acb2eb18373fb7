"""Fulfilling an approved request. A law-enforcement request gets the clips of every camera
in scope, the sightings and alerts (JSON, no templates) and their best-shot crops; a
subject-access request gets its requester's own appearances with every other face blurred
(services.subject_access)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from citywatch.domain.access import Permission
from citywatch.domain.audit import Action, Actor
from citywatch.domain.errors import Conflict, NotFound
from citywatch.requests.exports import (
    json_bytes,
    plain,
    publish_export,
    request_record,
    sighting_record,
    work_folder,
)
from citywatch.requests.package import Entry
from citywatch.requests.store import RequestInfo, RequestKind, RequestStatus
from citywatch.requests.subject_access import fulfil_subject_access
from citywatch.retention.footage import ClipExport, export_clip
from citywatch.runtime.build import Runtime


def fulfil(rt: Runtime, request_id: int, *, by: Actor) -> RequestInfo:
    """Produce and record the export of an approved request; `by`, when limited to some
    cameras, only of one within them (else PermissionDenied, audited)."""
    info = rt.requests.get(
        request_id, by=by, permission=Permission.REQUESTS_DECIDE, action=Action.REQUEST_FULFIL
    )
    if info.status is not RequestStatus.APPROVED:
        raise Conflict(f"request {request_id} is {info.status}; only an approved request is fulfilled")
    if info.kind is RequestKind.SUBJECT_ACCESS:
        return fulfil_subject_access(rt, info, by=by)
    return fulfil_law_enforcement(rt, info, by=by)


def fulfil_law_enforcement(rt: Runtime, info: RequestInfo, *, by: Actor) -> RequestInfo:
    since, until = info.window.start, info.window.end
    assert since is not None and until is not None  # a request's window is whole (store checks)
    sightings, alerts = rt.sightings.sightings_in(info.cameras, since, until)
    with work_folder(rt, f"request-{info.id}-") as tmp:
        clips = _clips(rt, info, tmp)
        entries = [Entry(f"clips/{c.camera_id}.mp4", source=c.path) for c in clips]
        entries += [
            Entry(f"crops/sighting-{s.id}.jpg", source=rt.blobs.absolute(s.crop_path)) for s in sightings
        ]
        entries.append(Entry("sightings.json", json_bytes([sighting_record(s) for s in sightings])))
        entries.append(Entry("alerts.json", json_bytes([plain(asdict(a)) for a in alerts])))
        entries.append(Entry("request.json", json_bytes(_request(info, clips))))
        return publish_export(rt, info, entries, by=by)


def _clips(rt: Runtime, info: RequestInfo, folder: Path) -> list[ClipExport]:
    since, until = info.window.start, info.window.end
    assert since is not None and until is not None
    configured = {c.id for c in rt.settings.cameras}
    clips = []
    for camera in info.cameras:
        try:
            clip = export_clip(
                rt.footage,
                camera,
                since,
                until,
                folder / f"{camera}.mp4",
                configured=camera in configured,
                publish=lambda _c: None,  # the package, not each clip, is what is recorded
            )
        except NotFound:
            continue  # a camera without footage in the window: its sightings still go
        clips.append(clip)
    return clips


def _request(info: RequestInfo, clips: list[ClipExport]) -> dict[str, object]:
    return request_record(
        info,
        clips=[
            {
                "camera": c.camera_id,
                "from": c.started_at,
                "until": c.ended_at,
                "segments": list(c.segment_ids),
            }
            for c in clips
        ],
    )
