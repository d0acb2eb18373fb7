"""Public subject-access requests: a person's own photo finds where they appear.

Filing runs a search by the system (audited as the system, under the request): the
requester's face is compared with the stored sightings in scope and with the recorded
footage of the named cameras over the window. Filing holds the named cameras' footage over
the window whatever the search found (what it found is named in the hold too), in the
filing's transaction: the public figures of holds and deletions move alike whether or not
the requester was filmed (docs/security.md). The photo is kept until the request is
answered; nothing else of the search is. Fulfilling an approved request searches the (held)
data again and exports the requester's appearances with every other face blurred
(services.redaction).
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import utc_now
from citywatch.domain.errors import (
    Conflict,
    CorruptMedia,
    InvalidInput,
    NoFace,
    NotFound,
    SeveralFaces,
    Unavailable,
)
from citywatch.domain.footage import Segment
from citywatch.domain.frames import Image
from citywatch.domain.matching import Template
from citywatch.domain.policy import Window
from citywatch.domain.records import SightingInfo
from citywatch.governance.store import SYSTEM
from citywatch.media.images import encode_jpeg, read_image
from citywatch.media.video import rewrite_video, video_frames
from citywatch.requests.exports import json_bytes, publish_export, request_record, work_folder
from citywatch.requests.package import Entry
from citywatch.requests.redaction import FaceRedactor, RedactionCounts, redact, spread
from citywatch.requests.store import (
    NewRequest,
    RequestInfo,
    RequestKind,
    SubjectFindings,
    check_known,
    check_request,
)
from citywatch.retention.footage import export_clip
from citywatch.retention.segments import describe_os_error
from citywatch.runtime.build import Runtime
from citywatch.search.photo import rank
from citywatch.store.staging import REQUEST_PHOTOS_FOLDER
from citywatch.vision.backends.yunet import YuNetDetector

log = logging.getLogger(__name__)

LEGAL_BASIS = "data subject's right of access"
PHOTO_JPEG_QUALITY = 95
"""The requester's photo is kept re-encoded (no EXIF or other metadata of the original)."""
SIGHTING_FIELDS = ("id", "camera_id", "started_at", "ended_at")
"""All an export tells its requester of a sighting: nothing of watchlists or matching."""


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
    missing: list[int]
    """Segments indexed in scope whose file is gone (counted in `unreadable` too)."""

    @property
    def items(self) -> list[tuple[str, int]]:
        return [("sighting", i) for i in self.sightings] + [("recording", i) for i in self.recordings]


Progress = Callable[[int, int], None]
"""Called with (segments searched, segments in scope)."""


def requester_template(rt: Runtime, photo: Path) -> Template:
    """The requester's face in the photo file `photo` (see `requester_face`)."""
    return requester_face(rt, read_image(photo), photo.name)


def requester_face(rt: Runtime, image: Image, name: str) -> Template:
    """The requester's face: exactly one, clear enough to be found by the detector."""
    faces = rt.detector.detect(image)
    faces = faces[faces.score >= rt.settings.quality.min_score]
    if not len(faces):
        raise NoFace(
            f"no face found in the request photo {name}: send a clear photo of your face, "
            "looking at the camera"
        )
    if len(faces) > 1:
        raise SeveralFaces(
            f"the request photo {name} shows several faces: send a photo of yourself alone, "
            "so that only your own data is searched"
        )
    template: Template = rt.embedder.embed(image, faces)[0]
    return template


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
    """File a subject-access request: search for the requester, hold what is found.

    The photo is read and decoded once; the search uses that image and the store keeps it
    re-encoded as JPEG (no metadata of the original file)."""
    new = NewRequest(
        RequestKind.SUBJECT_ACCESS,
        reference or f"SAR-{utc_now():%Y%m%d}-{secrets.token_hex(3).upper()}",
        requester,
        contact,
        list(cameras),
        window,
    )
    known = {c.id for c in rt.settings.cameras} | {c for c in cameras if rt.footage.has_footage(c)}
    check_request(new)
    rt.requests.check_filing(new.cameras, by=by)  # before the search reads any footage
    check_known(new.cameras, known, by=by)  # after the scope, listing only what is within it
    _check_window(rt, window)
    image = read_image(photo)
    probe = requester_face(rt, image, photo.name)
    found = search_subject(rt, probe, new.cameras, window, progress=progress)
    blob = rt.blobs.put(
        encode_jpeg(image, quality=PHOTO_JPEG_QUALITY), folder=REQUEST_PHOTOS_FOLDER, suffix=".jpg"
    )
    search = AuditEvent(
        Action.SEARCH_SUBJECT_ACCESS,
        f"request:{new.reference}",
        legal_basis=LEGAL_BASIS,
        case=new.reference,
        params={**_search_params(new.cameras, window, found), "filed_by": by.name},
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
        rt.blobs.delete(blob.path)
        raise
    return info, found


def _check_window(rt: Runtime, window: Window) -> None:
    """A subject-access search is bounded like any case search: it finds a person, it is not
    a way to browse the footage."""
    start, end = window.start, window.end
    assert start is not None and end is not None  # check_request
    limit_h = rt.settings.matching.search_max_window_h
    hours = (end - start).total_seconds() / 3600
    if hours > limit_h:
        raise InvalidInput(
            f"the window is {hours:.1f} h long; a subject-access search covers at most {limit_h:g} h "
            "(matching.search_max_window_h): give a shorter --from/--until"
        )


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
    missing: list[int] = []
    for done, (camera, segment) in enumerate(segments, start=1):
        path = rt.footage.absolute(segment.path)
        try:
            if not path.is_file():
                missing.append(segment.id)
                raise CorruptMedia(f"{segment.path}: the file is missing")
            for frame in video_frames(path, every_s=every_s):
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
        missing=missing,
    )


def fulfil_subject_access(rt: Runtime, info: RequestInfo, *, by: Actor) -> RequestInfo:
    """Export the requester's appearances (clips re-encoded with every other face blurred,
    their own sightings with redacted crops) as one signed package."""
    if info.photo_path is None:
        raise Conflict(f"request {info.id} no longer has the requester's photo; it cannot be fulfilled")
    _check_redaction_detector(rt)
    probe = requester_template(rt, rt.blobs.absolute(info.photo_path))
    found = search_subject(rt, probe, info.cameras, info.window)
    if found.missing:
        raise Unavailable(
            f"request {info.id}: the file of footage segment(s) "
            f"{', '.join(f'#{i}' for i in found.missing)} is missing, so the requester's appearances "
            "there cannot be exported; nothing was exported (the request stays approved)"
        )
    counts = RedactionCounts()
    entries: list[Entry] = []
    clips: list[dict[str, object]] = []
    with work_folder(rt, f"subject-access-{info.id}-") as tmp:
        for n, appearance in enumerate(found.appearances, start=1):
            clip = _redacted_clip(rt, appearance, tmp, n, probe)
            if clip is None:
                continue
            counts.add(clip.counts)
            name = f"clips/{appearance.camera_id}-{n}.mp4"
            entries.append(Entry(name, source=clip.path))
            clips.append(
                {
                    "file": name,
                    "camera": appearance.camera_id,
                    "from": clip.started_at,
                    "until": clip.ended_at,
                    "frames": clip.counts.frames,
                    "faces_blurred": clip.counts.blurred,
                }
            )
        own = [s for s in _in_window(rt, info) if s.id in set(found.sightings)]
        for s in own:
            redactor = _redactor(rt, probe)
            image = read_image(rt.blobs.absolute(s.crop_path))
            crop = redact(image, redactor.boxes(image))
            counts.add(redactor.counts)
            entries.append(Entry(f"crops/sighting-{s.id}.jpg", encode_jpeg(crop)))
        entries.append(Entry("sightings.json", json_bytes([subject_sighting(s) for s in own])))
        entries.append(
            Entry(
                "request.json",
                json_bytes(
                    request_record(
                        info,
                        clips=clips,
                        redaction="every face but the requester's is filled with a solid colour",
                    )
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


def subject_sighting(s: SightingInfo) -> dict[str, object]:
    """A sighting as a subject-access export shows it: where and when, nothing else."""
    return {k: getattr(s, k) for k in SIGHTING_FIELDS}


def _check_redaction_detector(rt: Runtime) -> None:
    """Blurring is only as good as the detector finding the faces: refuse rather than export
    with the HOG fallback (which misses small and turned faces)."""
    detector = rt.redaction_detector
    if not isinstance(detector, YuNetDetector):
        raise Unavailable(
            f"a subject-access export is redacted with the YuNet face detector, but {detector.name} "
            f"is in use (YuNet's model is missing from {rt.settings.models_dir}, or another detector "
            "is configured): run `citywatch models fetch` and configure YuNet; nothing was exported"
        )


def _redactor(rt: Runtime, probe: Template) -> FaceRedactor:
    return FaceRedactor(
        rt.redaction_detector,
        rt.embedder,
        probe,
        rt.settings.requests.keep_threshold,
        min_face_px=rt.settings.quality.min_face_px,
    )


@dataclass(frozen=True, slots=True)
class _Clip:
    path: Path
    started_at: datetime
    """Time of its first frame."""
    ended_at: datetime
    counts: RedactionCounts


def _redacted_clip(
    rt: Runtime, appearance: Appearance, folder: Path, n: int, probe: Template
) -> _Clip | None:
    """The appearance's footage with every face but the requester's blurred, in two passes
    over a stream-copied cut: decide each frame's boxes, then re-encode blurring each frame's
    boxes and its neighbours' (services.redaction). Frames before the appearance (the cut
    starts at the keyframe before it) are dropped. None when no footage of it is kept."""
    camera, start, end = appearance.camera_id, appearance.start, appearance.end
    if not _require_files(rt, camera, rt.footage.segments(camera, start, end)):
        return None  # seen in a stored sighting, but no footage of that stretch is kept
    try:
        raw = export_clip(
            rt.footage,
            camera,
            start,
            end,
            folder / f"raw-{n}.mp4",
            configured=True,
            publish=lambda _c: None,  # the package, not each clip, is what is recorded
        )
    except NotFound:
        _require_files(rt, camera, rt.footage.segments(camera, start, end))  # one gone meanwhile
        return None  # the segments hold no frame inside the appearance
    out = folder / f"clip-{n}.mp4"
    redactor = _redactor(rt, probe)
    skip_s = max(0.0, (start - raw.started_at).total_seconds())
    try:
        first_s: float | None = None
        decided = []
        for frame in video_frames(raw.path, skip_s=skip_s):
            first_s = frame.offset_s if first_s is None else first_s
            decided.append(redactor.boxes(frame.image))
        if first_s is None:
            return None
        plan = spread(decided)

        def blur(i: int, image: Image) -> Image:
            if i >= len(plan):  # a second decode longer than the first: never unblurred
                raise CorruptMedia(f"clip of {camera}: frame {i} was not examined")
            return redact(image, plan[i])

        written = rewrite_video(raw.path, out, blur, skip_s=skip_s)
    except OSError as exc:
        raise Unavailable(f"{describe_os_error(exc)} while blurring the clip of {camera}") from exc
    finally:
        raw.path.unlink(missing_ok=True)  # the unblurred cut never leaves the working folder
    if written != len(plan):
        raise CorruptMedia(f"clip of {camera}: {written} frame(s) written, {len(plan)} examined")
    return _Clip(out, raw.started_at + timedelta(seconds=first_s), raw.ended_at, redactor.counts)


def _require_files(rt: Runtime, camera: str, segments: list[Segment]) -> list[Segment]:
    """`segments`, each with its file; a file gone is an error, never a stretch left out."""
    for segment in segments:
        if not rt.footage.absolute(segment.path).is_file():
            raise Unavailable(
                f"footage segment #{segment.id} of camera {camera} is held for this request but its "
                f"file {segment.path} is missing; nothing was exported (the request stays approved)"
            )
    return segments


def _matching_sightings(
    rt: Runtime, probe: Template, cameras: Sequence[str], window: tuple[datetime, datetime], threshold: float
) -> list[SightingInfo]:
    stored, _ = rt.sightings.sightings_in(cameras, *window)
    candidates = rt.sightings.sightings_for_search(rt.embedder.name, list(cameras), *window)
    by_template = {
        h.sighting_id for h in rank(probe, candidates, threshold=threshold, limit=len(candidates) or 1)
    }
    matched = []
    for s in stored:
        if s.id in by_template:
            matched.append(s)
        elif not s.has_template:
            try:
                distances = _distances(rt, read_image(rt.blobs.absolute(s.crop_path)), probe)
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
    """The spans, padded by `pad` and clipped to [start, end), merged where they touch or
    overlap; a span left with no length inside the window is dropped."""
    merged: list[Appearance] = []
    for first, last_seen in sorted(spans):
        lo, hi = max(start, first - pad), min(end, last_seen + pad)
        if hi <= lo:
            continue
        if merged and lo <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Appearance(camera, last.start, max(last.end, hi))
        else:
            merged.append(Appearance(camera, lo, hi))
    return merged


def _in_window(rt: Runtime, info: RequestInfo) -> list[SightingInfo]:
    start, end = info.window.start, info.window.end
    assert start is not None and end is not None
    return rt.sightings.sightings_in(info.cameras, start, end)[0]


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
