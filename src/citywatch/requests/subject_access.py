"""Public subject-access requests: a person's own photo finds where they appear.

Filing runs a search by the system (audited as the system, under the request): the
requester's face is compared with the stored sightings in scope and with the recorded
footage of the named cameras over the window. Filing holds the named cameras' footage over
the window whatever the search found (what it found is named in the hold too), in the
filing's transaction: the public figures of holds and deletions move alike whether or not
the requester was filmed (docs/security.md). The photo is kept until the request is
answered; nothing else of the search is. Fulfilling an approved request searches the (held)
data again and exports the requester's appearances with every other face blurred
(requests.subject_export).
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

from citywatch.config.pipeline import MatchingSettings, RequestSettings
from citywatch.config.vision import QualitySettings
from citywatch.domain.audit import SYSTEM, Action, Actor, AuditEvent
from citywatch.domain.clock import utc_now
from citywatch.domain.errors import CorruptMedia, InvalidInput, NoFace, NotFound, SeveralFaces
from citywatch.domain.footage import Segment
from citywatch.domain.frames import Image
from citywatch.domain.matching import Template
from citywatch.domain.policy import Window
from citywatch.domain.ports import Detector, Embedder
from citywatch.domain.records import RequestKind, SightingInfo
from citywatch.media.images import decode_image, encode_jpeg, read_image
from citywatch.media.video import video_frames
from citywatch.requests.exports import work_folder
from citywatch.requests.records import NewRequest, RequestInfo, SubjectFindings
from citywatch.requests.service import RequestService, check_known, check_request
from citywatch.retention.segments import FootageStore
from citywatch.search.photo import rank
from citywatch.sightings.store import SightingStore
from citywatch.store.blobs import BlobStore
from citywatch.store.staging import REQUEST_PHOTOS_FOLDER

log = logging.getLogger(__name__)

LEGAL_BASIS = "data subject's right of access"
PHOTO_JPEG_QUALITY = 95
"""The requester's photo is kept re-encoded (no EXIF or other metadata of the original)."""


@dataclass(frozen=True, slots=True)
class SubjectAccess:
    """What filing and fulfilling a subject-access request draw on."""

    requests: RequestService
    sightings: SightingStore
    footage: FootageStore
    blobs: BlobStore
    """The requester's photo (kept until the request is answered) and the sightings' crops."""
    load_detector: Callable[[], Detector]
    load_embedder: Callable[[], Embedder]
    """The models, loaded when a search or a fulfilment runs (a filing refused before its
    search loads neither)."""
    redaction_detector: Callable[[], Detector]
    """The detector an export blurs with (at the lower score floor of
    `requests.redact_min_score`, where a missed face would be a leak); called only when a
    request is fulfilled, so that filing never loads it."""
    configured: frozenset[str]
    """The configured cameras' ids (a camera with recorded footage is known too)."""
    quality: QualitySettings
    """Which face in the requester's photo, or in the footage, is clear enough to compare."""
    matching: MatchingSettings
    """`search_threshold` (where to look) and `search_max_window_h` (the longest window)."""
    rules: RequestSettings
    """`scan_fps`, `appearance_pad_s` and `keep_threshold`."""
    data_dir: Path
    """Where the signed export and its working folder go."""
    models_dir: Path
    """Where YuNet's model is looked for (named when a fulfilment is refused without it)."""

    @property
    def detector(self) -> Detector:
        return self.load_detector()

    @property
    def embedder(self) -> Embedder:
        return self.load_embedder()


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


def requester_template(access: SubjectAccess, photo_path: str) -> Template:
    """The requester's face in their kept photo, the blob `photo_path` (see `requester_face`)."""
    return requester_face(access, stored_image(access.blobs, photo_path), photo_path.rpartition("/")[2])


def stored_image(blobs: BlobStore, path: str) -> Image:
    """A kept image (a crop, a requester's photo) decoded from the blob store."""
    return decode_image(blobs.read(path), path)


def requester_face(access: SubjectAccess, image: Image, name: str) -> Template:
    """The requester's face: exactly one, clear enough to be found by the detector."""
    faces = access.detector.detect(image)
    faces = faces[faces.score >= access.quality.min_score]
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
    template: Template = access.embedder.embed(image, faces)[0]
    return template


def file_subject_access(
    access: SubjectAccess,
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
    known = set(access.configured) | {c for c in cameras if access.footage.has_footage(c)}
    check_request(new)
    access.requests.check_filing(new.cameras, by=by)  # before the search reads any footage
    check_known(new.cameras, known, by=by)  # after the scope, listing only what is within it
    _check_window(access, window)
    image = read_image(photo)
    probe = requester_face(access, image, photo.name)
    found = search_subject(access, probe, new.cameras, window, progress=progress)
    blob = access.blobs.put(
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
        info = access.requests.file(
            new,
            by=by,
            known_cameras=known,
            subject=SubjectFindings(found.items, blob.path, SYSTEM, search),
        )
    except BaseException:
        access.blobs.delete(blob.path)
        raise
    return info, found


def _check_window(access: SubjectAccess, window: Window) -> None:
    """A subject-access search is bounded like any case search: it finds a person, it is not
    a way to browse the footage."""
    start, end = window.start, window.end
    assert start is not None and end is not None  # check_request
    limit_h = access.matching.search_max_window_h
    hours = (end - start).total_seconds() / 3600
    if hours > limit_h:
        raise InvalidInput(
            f"the window is {hours:.1f} h long; a subject-access search covers at most {limit_h:g} h "
            "(matching.search_max_window_h): give a shorter --from/--until"
        )


def search_subject(
    access: SubjectAccess,
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
    threshold = access.matching.search_threshold
    seen: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    sightings = _matching_sightings(access, probe, cameras, (start, end), threshold)
    for s in sightings:
        seen[s.camera_id].append((s.started_at, s.ended_at))
    segments = [(c, s) for c in cameras for s in access.footage.segments(c, start, end)]
    frames = compared = unreadable = 0
    missing: list[int] = []
    for done, (camera, segment) in enumerate(segments, start=1):
        try:
            found, scanned, faces = _scan_segment(access, segment, probe, (start, end), threshold)
            seen[camera].extend((at, at) for at in found)
            frames += scanned
            compared += faces
        except NotFound as exc:
            missing.append(segment.id)
            unreadable += 1
            log.warning("segment #%d of camera %s not searched: %s", segment.id, camera, exc)
        except CorruptMedia as exc:
            unreadable += 1
            log.warning("segment #%d of camera %s not searched: %s", segment.id, camera, exc)
        if progress is not None:
            progress(done, len(segments))
    pad = timedelta(seconds=access.rules.appearance_pad_s)
    appearances = [
        a for camera in sorted(seen) for a in _merge(camera, seen[camera], pad=pad, start=start, end=end)
    ]
    recordings = sorted(
        {s.id for a in appearances for s in access.footage.segments(a.camera_id, a.start, a.end)}
    )
    return SubjectSearch(
        appearances=appearances,
        sightings=sorted(s.id for s in sightings),
        recordings=recordings,
        frames_scanned=frames,
        faces_compared=compared,
        unreadable=unreadable,
        missing=missing,
    )


def _scan_segment(
    access: SubjectAccess,
    segment: Segment,
    probe: Template,
    window: tuple[datetime, datetime],
    threshold: float,
) -> tuple[list[datetime], int, int]:
    """The times in `window` at which `probe` appears in the segment's frames sampled at
    `requests.scan_fps`, with the frames scanned and the faces compared. `NotFound` when its
    file lies nowhere, `CorruptMedia` when it does not decode."""
    start, end = window
    found: list[datetime] = []
    frames = compared = 0
    with (
        work_folder(access.data_dir, "subject-search-") as work,
        access.footage.local_file(segment, work) as path,
    ):
        for frame in video_frames(path, every_s=1.0 / access.rules.scan_fps):
            at = segment.started_at + timedelta(seconds=frame.offset_s)
            if not start <= at < end:
                continue
            frames += 1
            distances = _distances(access, frame.image, probe)
            compared += len(distances)
            if len(distances) and float(distances.min()) < threshold:
                found.append(at)
    return found, frames, compared


def _matching_sightings(
    access: SubjectAccess,
    probe: Template,
    cameras: Sequence[str],
    window: tuple[datetime, datetime],
    threshold: float,
) -> list[SightingInfo]:
    stored, _ = access.sightings.sightings_in(cameras, *window)
    candidates = access.sightings.sightings_for_search(access.embedder.name, list(cameras), *window)
    by_template = {
        h.sighting_id for h in rank(probe, candidates, threshold=threshold, limit=len(candidates) or 1)
    }
    matched = []
    for s in stored:
        if s.id in by_template:
            matched.append(s)
        elif not s.has_template:
            try:
                distances = _distances(access, stored_image(access.blobs, s.crop_path), probe)
            except CorruptMedia as exc:
                log.warning("sighting %d's crop not searched: %s", s.id, exc)
                continue
            if len(distances) and float(distances.min()) < threshold:
                matched.append(s)
    return matched


def _distances(access: SubjectAccess, image: np.ndarray, probe: Template) -> np.ndarray:
    faces = access.detector.detect(image)
    faces = faces[faces.score >= access.quality.min_score]
    if not len(faces):
        return np.zeros(0)
    return np.asarray(np.linalg.norm(access.embedder.embed(image, faces) - probe[None], axis=1))


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
