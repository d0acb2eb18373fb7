"""Fulfilling an approved request. A law-enforcement request gets the clips of every camera
in scope, the sightings and alerts (JSON, no templates) and their best-shot crops; a
subject-access request gets its requester's own appearances with every other face blurred
(requests.subject_export)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from citywatch.domain.access import Permission
from citywatch.domain.audit import Action, Actor
from citywatch.domain.errors import Conflict, NotFound
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.requests.exports import (
    json_bytes,
    plain,
    publish_export,
    request_record,
    sighting_record,
    work_folder,
)
from citywatch.requests.package import Entry
from citywatch.requests.records import RequestInfo
from citywatch.requests.service import RequestService
from citywatch.requests.subject_access import SubjectAccess
from citywatch.requests.subject_export import fulfil_subject_access
from citywatch.retention.footage import ClipExport, export_clip
from citywatch.retention.segments import FootageStore
from citywatch.sightings.store import SightingStore
from citywatch.store.blobs import BlobStore


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """What fulfilling a request draws on."""

    requests: RequestService
    sightings: SightingStore
    blobs: BlobStore
    """The sightings' best-shot crops."""
    footage: FootageStore
    configured: frozenset[str]
    """The configured cameras' ids (a camera that is not, and has no footage, is unknown)."""
    data_dir: Path
    """Where the signed export and its working folder go."""
    subject_access: Callable[[], SubjectAccess]
    """What a subject-access export draws on, called only for one (its models load then)."""


def fulfil(fulfilment: Fulfilment, request_id: int, *, by: Actor) -> RequestInfo:
    """Produce and record the export of an approved request; `by`, when limited to some
    cameras, only of one within them (else PermissionDenied, audited)."""
    info = fulfilment.requests.get(
        request_id, by=by, permission=Permission.REQUESTS_DECIDE, action=Action.REQUEST_FULFIL
    )
    if info.status is not RequestStatus.APPROVED:
        raise Conflict(f"request {request_id} is {info.status}; only an approved request is fulfilled")
    if info.kind is RequestKind.SUBJECT_ACCESS:
        return fulfil_subject_access(fulfilment.subject_access(), info, by=by)
    return fulfil_law_enforcement(fulfilment, info, by=by)


def fulfil_law_enforcement(fulfilment: Fulfilment, info: RequestInfo, *, by: Actor) -> RequestInfo:
    since, until = info.window.start, info.window.end
    assert since is not None and until is not None  # a request's window is whole (store checks)
    sightings, alerts = fulfilment.sightings.sightings_in(info.cameras, since, until)
    blobs = fulfilment.blobs
    with work_folder(fulfilment.data_dir, f"request-{info.id}-") as tmp:
        clips = _clips(fulfilment.footage, fulfilment.configured, info, tmp)
        entries = [Entry(f"clips/{c.camera_id}.mp4", source=c.path) for c in clips]
        entries += [Entry(f"crops/sighting-{s.id}.jpg", blobs.read(s.crop_path)) for s in sightings]
        entries.append(Entry("sightings.json", json_bytes([sighting_record(s) for s in sightings])))
        entries.append(Entry("alerts.json", json_bytes([plain(asdict(a)) for a in alerts])))
        entries.append(Entry("request.json", json_bytes(_request(info, clips))))
        return publish_export(fulfilment.requests, fulfilment.data_dir, info, entries, by=by)


def _clips(
    footage: FootageStore, configured: frozenset[str], info: RequestInfo, folder: Path
) -> list[ClipExport]:
    since, until = info.window.start, info.window.end
    assert since is not None and until is not None
    clips = []
    for camera in info.cameras:
        try:
            clip = export_clip(
                footage,
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
