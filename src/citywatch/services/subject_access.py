"""Public subject-access requests: a person's own photo finds where they appear.

Filing runs a search by the system (audited as the system, under the request): the
requester's face is compared with the stored sightings in scope and with the recorded
footage of the named cameras over the window, and what matches is held at once, in the
filing's transaction. The photo is kept until the request is answered; nothing else of
the search is. Fulfilling an approved request searches the (held) data again and exports
the requester's appearances with every other face blurred (services.redaction).
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from citywatch.domain.audit import Actor, AuditEvent
from citywatch.domain.errors import Conflict, CorruptMedia, NoFace, NotFound, SeveralFaces, Unavailable
from citywatch.domain.matching import Template
from citywatch.domain.policy import Window
from citywatch.exports.package import Entry
from citywatch.media.images import encode_jpeg, read_image
from citywatch.media.video import rewrite_video, video_frames
from citywatch.runtime.build import Runtime
from citywatch.services.exports import json_bytes, publish_export, sighting_record
from citywatch.services.faces import one_face
from citywatch.services.footage import export_clip
from citywatch.services.redaction import FaceRedactor, RedactionCounts
from citywatch.services.search import rank
from citywatch.store.facade import REQUEST_PHOTOS_FOLDER, utc_now
from citywatch.store.footage import describe_os_error
from citywatch.store.governance import SYSTEM
from citywatch.store.records import SightingInfo
from citywatch.store.requests import NewRequest, RequestInfo, RequestKind, SubjectFindings, check_request

log = logging.getLogger(__name__)

LEGAL_BASIS = "data subject's right of access"


@dataclass(frozen=True, slots=True)
class Appearance:
    """A stretch of one camera's time in which the requester was seen (padded)."""

    camera_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SubjectSearch:
    appearances: list[Appearance]
    sightings: list[int]
    """Stored sightings of the requester."""
    recordings: list[int]
    """Footage segments that hold an appearance."""
    frames_scanned: int
    faces_compared: int
    unreadable: int
    """Segments that could not be read (gone, or damaged)."""

    @property
    def items(self) -> list[tuple[str, int]]:
        return [("sighting", i) for i in self.sightings] + [("recording", i) for i in self.recordings]


Progress = Callable[[int, int], None]
"""Called with (segments searched, segments in scope)."""


def requester_template(rt: Runtime, photo: Path) -> Template:
    """The requester's face: exactly one, clear enough to be found by the detector."""
    try:
        return one_face(photo, rt.detector, rt.embedder, rt.settings.quality).template
    except NoFace as exc:
        raise NoFace(
            f"no face found in the request photo {photo.name}: send a clear photo of your face, "
            "looking at the camera"
        ) from exc
    except SeveralFaces as exc:
        raise SeveralFaces(
            f"the request photo {photo.name} shows several faces: send a photo of yourself alone, "
            "so that only your own data is searched"
        ) from exc


def file_subject_access(
    rt: Runtime,
    *,
    requester: str,
    contact: str,
    cameras: Sequence[str],
    window: Window,
    photo: Path,
    by: Actor,
    reference: str | None = None,
    progress: Progress | None = None,
) -> tuple[RequestInfo, SubjectSearch]:
    """File a subject-access request: search for the requester, hold what is found."""
    new = NewRequest(
        RequestKind.SUBJECT_ACCESS,
        reference or f"SAR-{utc_now():%Y%m%d}-{secrets.token_hex(3).upper()}",
        requester,
        contact,
        list(cameras),
        window,
    )
    known = {c.id for c in rt.settings.cameras} | {c for c in cameras if rt.footage.has_footage(c)}
    check_request(new, known)
    probe = requester_template(rt, photo)
    found = search_subject(rt, probe, new.cameras, window, progress=progress)
    try:
        data = photo.read_bytes()
    except OSError as exc:
        raise Unavailable(f"cannot read the request photo {photo}: {describe_os_error(exc)}") from exc
    blob = rt.store.blobs.put(data, folder=REQUEST_PHOTOS_FOLDER, suffix=photo.suffix.lower() or ".jpg")
    search = AuditEvent(
        "search.subject_access",
        f"request:{new.reference}",
        legal_basis=LEGAL_BASIS,
        case=new.reference,
        params=_search_params(new.cameras, window, found),
        result_count=len(found.appearances),
    )
    try:
        info = rt.requests.file(
            new,
            by=by,
            known_cameras=known,
            subject=SubjectFindings(found.items, blob.path, SYSTEM, search),
        )
    except BaseException:
        rt.store.blobs.delete(blob.path)
        raise
    return info, found


def search_subject(
    rt: Runtime,
    probe: Template,
    cameras: Sequence[str],
    window: Window,
    *,
    progress: Progress | None = None,
) -> SubjectSearch:
    """Where the face `probe` appears on `cameras` within `window`: in stored sightings (their
    template, else their best-shot crop) and in recorded footage sampled at
    `requests.scan_fps`. Each match, padded by `requests.appearance_pad_s`, is merged into
    appearances."""
    start, end = window.start, window.end
    assert start is not None and end is not None
    threshold = rt.settings.matching.search_threshold
    seen: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    sightings = _matching_sightings(rt, probe, cameras, (start, end), threshold)
    for s in sightings:
        seen[s.camera_id].append((s.started_at, s.ended_at))
    segments = [(c, s) for c in cameras for s in rt.footage.segments(c, start, end)]
    frames = compared = unreadable = 0
    every_s = 1.0 / rt.settings.requests.scan_fps
    for done, (camera, segment) in enumerate(segments, start=1):
        try:
            for frame in video_frames(rt.footage.absolute(segment.path), every_s=every_s):
                at = segment.started_at + timedelta(seconds=frame.offset_s)
                if not start <= at < end:
                    continue
                frames += 1
                distances = _distances(rt, frame.image, probe)
                compared += len(distances)
                if len(distances) and float(distances.min()) < threshold:
                    seen[camera].append((at, at))
        except CorruptMedia as exc:
            unreadable += 1
            log.warning("segment #%d of camera %s not searched: %s", segment.id, camera, exc)
        if progress is not None:
            progress(done, len(segments))
    pad = timedelta(seconds=rt.settings.requests.appearance_pad_s)
    appearances = [
        a for camera in sorted(seen) for a in _merge(camera, seen[camera], pad=pad, start=start, end=end)
    ]
    recordings = sorted({s.id for a in appearances for s in rt.footage.segments(a.camera_id, a.start, a.end)})
    return SubjectSearch(
        appearances=appearances,
        sightings=sorted(s.id for s in sightings),
        recordings=recordings,
        frames_scanned=frames,
        faces_compared=compared,
        unreadable=unreadable,
    )


def fulfil_subject_access(rt: Runtime, info: RequestInfo, *, by: Actor) -> RequestInfo:
    """Export the requester's appearances (clips re-encoded with every other face blurred,
    their own sightings with redacted crops) as one signed package."""
    if info.photo_path is None:
        raise Conflict(f"request {info.id} no longer has the requester's photo; it cannot be fulfilled")
    probe = requester_template(rt, rt.store.blobs.absolute(info.photo_path))
    found = search_subject(rt, probe, info.cameras, info.window)
    counts = RedactionCounts()
    entries: list[Entry] = []
    clips: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="citywatch-export-") as tmp:
        for n, appearance in enumerate(found.appearances, start=1):
            redactor = _redactor(rt, probe)
            clip = _redacted_clip(rt, appearance, Path(tmp), n, redactor)
            if clip is None:
                continue
            counts.add(redactor.counts)
            name = f"clips/{appearance.camera_id}-{n}.mp4"
            entries.append(Entry(name, source=clip))
            clips.append(
                {
                    "file": name,
                    "camera": appearance.camera_id,
                    "from": appearance.start,
                    "until": appearance.end,
                    "frames": redactor.counts.frames,
                    "faces_blurred": redactor.counts.blurred,
                }
            )
        own = [s for s in _in_window(rt, info) if s.id in set(found.sightings)]
        for s in own:
            redactor = _redactor(rt, probe)
            crop = redactor(read_image(rt.store.blobs.absolute(s.crop_path)))
            counts.add(redactor.counts)
            entries.append(Entry(f"crops/sighting-{s.id}.jpg", encode_jpeg(crop)))
        entries.append(Entry("sightings.json", json_bytes([sighting_record(s) for s in own])))
        entries.append(
            Entry(
                "request.json",
                json_bytes(
                    {
                        "id": info.id,
                        "kind": info.kind.value,
                        "reference": info.reference,
                        "requester": info.requester,
                        "cameras": info.cameras,
                        "from": info.window.start,
                        "until": info.window.end,
                        "decided_by": info.decided_by,
                        "clips": clips,
                        "redaction": "every face but the requester's is pixelated past recognition",
                    }
                ),
            )
        )
        return publish_export(
            rt,
            info,
            entries,
            by=by,
            details={
                "appearances": len(clips),
                "sightings": len(own),
                "faces_kept": counts.kept,
                "faces_blurred": counts.blurred,
            },
        )


def _redactor(rt: Runtime, probe: Template) -> FaceRedactor:
    return FaceRedactor(
        rt.redaction_detector,
        rt.embedder,
        probe,
        rt.settings.matching.search_threshold,
        min_face_px=rt.settings.quality.min_face_px,
    )


def _redacted_clip(
    rt: Runtime, appearance: Appearance, folder: Path, n: int, redactor: FaceRedactor
) -> Path | None:
    try:
        raw = export_clip(
            rt.footage,
            appearance.camera_id,
            appearance.start,
            appearance.end,
            folder / f"raw-{n}.mp4",
            configured=True,
            publish=lambda _c: None,  # the package, not each clip, is what is recorded
        )
    except NotFound:
        return None  # seen in a stored sighting, but no footage of that stretch is kept
    out = folder / f"clip-{n}.mp4"
    try:
        rewrite_video(raw.path, out, redactor)
    except OSError as exc:
        raise Unavailable(
            f"{describe_os_error(exc)} while blurring the clip of {appearance.camera_id}"
        ) from exc
    finally:
        raw.path.unlink(missing_ok=True)  # the unblurred cut never leaves the temporary folder
    return out


def _matching_sightings(
    rt: Runtime, probe: Template, cameras: Sequence[str], window: tuple[datetime, datetime], threshold: float
) -> list[SightingInfo]:
    stored, _ = rt.store.sightings_in(cameras, *window)
    candidates = rt.store.sightings_for_search(rt.embedder.name, list(cameras), *window)
    by_template = {
        h.sighting_id for h in rank(probe, candidates, threshold=threshold, limit=len(candidates) or 1)
    }
    matched = []
    for s in stored:
        if s.id in by_template:
            matched.append(s)
        elif not s.has_template:
            try:
                distances = _distances(rt, read_image(rt.store.blobs.absolute(s.crop_path)), probe)
            except CorruptMedia as exc:
                log.warning("sighting %d's crop not searched: %s", s.id, exc)
                continue
            if len(distances) and float(distances.min()) < threshold:
                matched.append(s)
    return matched


def _distances(rt: Runtime, image: np.ndarray, probe: Template) -> np.ndarray:
    faces = rt.detector.detect(image)
    faces = faces[faces.score >= rt.settings.quality.min_score]
    if not len(faces):
        return np.zeros(0)
    return np.asarray(np.linalg.norm(rt.embedder.embed(image, faces) - probe[None], axis=1))


def _merge(
    camera: str, spans: list[tuple[datetime, datetime]], *, pad: timedelta, start: datetime, end: datetime
) -> list[Appearance]:
    merged: list[Appearance] = []
    for first, last_seen in sorted(spans):
        lo, hi = max(start, first - pad), min(end, last_seen + pad)
        if merged and lo <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Appearance(camera, last.start, max(last.end, hi))
        else:
            merged.append(Appearance(camera, lo, hi))
    return merged


def _in_window(rt: Runtime, info: RequestInfo) -> list[SightingInfo]:
    start, end = info.window.start, info.window.end
    assert start is not None and end is not None
    return rt.store.sightings_in(info.cameras, start, end)[0]


def _search_params(cameras: Sequence[str], window: Window, found: SubjectSearch) -> dict[str, object]:
    return {
        "cameras": sorted(cameras),
        "from": None if window.start is None else window.start.isoformat(),
        "until": None if window.end is None else window.end.isoformat(),
        "sightings": len(found.sightings),
        "recordings": len(found.recordings),
        "frames_scanned": found.frames_scanned,
        "faces_compared": found.faces_compared,
        "unreadable_segments": found.unreadable,
    }
