"""Fulfilling an approved law-enforcement request: one signed export package holding the
clips of every camera in scope, the sightings and alerts (JSON, no templates) and their
best-shot crops; recorded with the request in one transaction once the file is whole."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from citywatch.audit.keys import load_or_create
from citywatch.domain.audit import Actor
from citywatch.domain.errors import Conflict, NotFound
from citywatch.exports.package import Entry, build_package
from citywatch.runtime.build import Runtime
from citywatch.services.footage import ClipExport, export_clip
from citywatch.store.facade import utc_now
from citywatch.store.records import SightingInfo
from citywatch.store.requests import RequestInfo, RequestKind, RequestStatus
from citywatch.store.tables import ExportRow

EXPORTS_FOLDER = "exports"


def fulfil_law_enforcement(rt: Runtime, request_id: int, *, by: Actor) -> RequestInfo:
    info = rt.requests.get(request_id)
    if info.kind is not RequestKind.LAW_ENFORCEMENT:
        raise Conflict(f"request {request_id} is a {info.kind}; this fulfils law-enforcement requests")
    if info.status is not RequestStatus.APPROVED:
        raise Conflict(f"request {request_id} is {info.status}; only an approved request is fulfilled")
    since, until = info.window.start, info.window.end
    assert since is not None and until is not None  # a request's window is whole (store checks)
    sightings, alerts = rt.store.sightings_in(info.cameras, since, until)
    now = utc_now()
    with tempfile.TemporaryDirectory(prefix="citywatch-export-") as tmp:
        clips = _clips(rt, info, Path(tmp))
        entries = [Entry(f"clips/{c.camera_id}.mp4", source=c.path) for c in clips]
        entries += [
            Entry(f"crops/sighting-{s.id}.jpg", source=rt.store.blobs.absolute(s.crop_path))
            for s in sightings
        ]
        entries.append(Entry("sightings.json", _json([_sighting(s) for s in sightings])))
        entries.append(Entry("alerts.json", _json([_plain(asdict(a)) for a in alerts])))
        entries.append(Entry("request.json", _json(_request(info, clips))))
        relative = f"{now.date().isoformat()}/request-{request_id}-{now.strftime('%H%M%S')}.zip"
        built = build_package(
            rt.settings.data_dir / EXPORTS_FOLDER / relative,
            entries,
            key=load_or_create(rt.settings.data_dir),
            reference=info.reference,
            created_by=by.name,
            created_at=now,
        )
    export = ExportRow(
        request_id=request_id,
        reference=info.reference,
        path=relative,
        size=built.size,
        sha256=built.sha256,
        created_by=by.name,
        created_at=now,
    )
    try:
        return rt.requests.fulfilled(request_id, export, by=by)
    except BaseException:
        built.path.unlink(missing_ok=True)  # never an export on disk that no row records
        raise


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


def _sighting(s: SightingInfo) -> dict[str, object]:
    d = {k: _plain(v) for k, v in asdict(s).items() if k != "crop_path"}
    return d


def _request(info: RequestInfo, clips: list[ClipExport]) -> dict[str, object]:
    return {
        "id": info.id,
        "kind": info.kind.value,
        "reference": info.reference,
        "requester": info.requester,
        "cameras": info.cameras,
        "from": info.window.start,
        "until": info.window.end,
        "decided_by": info.decided_by,
        "clips": [
            {
                "camera": c.camera_id,
                "from": c.started_at,
                "until": c.ended_at,
                "segments": list(c.segment_ids),
            }
            for c in clips
        ],
    }


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _json(value: object) -> bytes:
    return json.dumps(_plain(value), indent=2, sort_keys=True, default=str).encode()
