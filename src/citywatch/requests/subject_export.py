"""Fulfilling an approved subject-access request: the (held) data is searched again for the
requester (requests.subject_access) and their appearances exported as one signed package,
clips re-encoded with every other face blurred and their own sightings with redacted crops
(requests.redaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from citywatch.domain.audit import Actor
from citywatch.domain.errors import Conflict, CorruptMedia, NotFound, Unavailable
from citywatch.domain.footage import Segment
from citywatch.domain.frames import Image
from citywatch.domain.matching import Template
from citywatch.domain.records import SightingInfo
from citywatch.media.images import encode_jpeg
from citywatch.media.redaction import FaceRedactor, RedactionCounts, redact, spread
from citywatch.media.video import rewrite_video, video_frames
from citywatch.requests.exports import json_bytes, publish_export, request_record, work_folder
from citywatch.requests.package import Entry
from citywatch.requests.records import RequestInfo
from citywatch.requests.subject_access import (
    Appearance,
    SubjectAccess,
    SubjectSearch,
    requester_template,
    search_subject,
    stored_image,
)
from citywatch.retention.footage import export_clip
from citywatch.retention.segments import describe_os_error
from citywatch.vision.backends.yunet import YuNetDetector

SIGHTING_FIELDS = ("id", "camera_id", "started_at", "ended_at")
"""All an export tells its requester of a sighting: nothing of watchlists or matching."""
REDACTION = "every face but the requester's is filled with a solid colour"


def fulfil_subject_access(access: SubjectAccess, info: RequestInfo, *, by: Actor) -> RequestInfo:
    """Export the requester's appearances (clips re-encoded with every other face blurred,
    their own sightings with redacted crops) as one signed package."""
    if info.photo_path is None:
        raise Conflict(f"request {info.id} no longer has the requester's photo; it cannot be fulfilled")
    _check_redaction_detector(access)
    probe = requester_template(access, info.photo_path)
    found = search_subject(access, probe, info.cameras, info.window)
    if found.missing:
        raise Unavailable(
            f"request {info.id}: the file of footage segment(s) "
            f"{', '.join(f'#{i}' for i in found.missing)} is missing, so the requester's appearances "
            "there cannot be exported; nothing was exported (the request stays approved)"
        )
    counts = RedactionCounts()
    with work_folder(access.data_dir, f"subject-access-{info.id}-") as tmp:
        entries, clips = _clip_entries(access, found, tmp, probe, counts)
        own = [s for s in _in_window(access, info) if s.id in set(found.sightings)]
        for s in own:
            redactor = _redactor(access, probe)
            image = stored_image(access.blobs, s.crop_path)
            crop = redact(image, redactor.boxes(image))
            counts.add(redactor.counts)
            entries.append(Entry(f"crops/sighting-{s.id}.jpg", encode_jpeg(crop)))
        entries.append(Entry("sightings.json", json_bytes([subject_sighting(s) for s in own])))
        entries.append(
            Entry("request.json", json_bytes(request_record(info, clips=clips, redaction=REDACTION)))
        )
        return publish_export(
            access.requests,
            access.data_dir,
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


def _clip_entries(
    access: SubjectAccess, found: SubjectSearch, folder: Path, probe: Template, counts: RedactionCounts
) -> tuple[list[Entry], list[dict[str, object]]]:
    """The package's redacted clip of each appearance whose footage is kept (written in
    `folder`, their redactions added to `counts`), and what `request.json` says of each."""
    entries: list[Entry] = []
    clips: list[dict[str, object]] = []
    for n, appearance in enumerate(found.appearances, start=1):
        clip = _redacted_clip(access, appearance, folder, n, probe)
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
    return entries, clips


def subject_sighting(s: SightingInfo) -> dict[str, object]:
    """A sighting as a subject-access export shows it: where and when, nothing else."""
    return {k: getattr(s, k) for k in SIGHTING_FIELDS}


def _check_redaction_detector(access: SubjectAccess) -> None:
    """Blurring is only as good as the detector finding the faces: refuse rather than export
    with the HOG fallback (which misses small and turned faces)."""
    detector = access.redaction_detector()
    if not isinstance(detector, YuNetDetector):
        raise Unavailable(
            f"a subject-access export is redacted with the YuNet face detector, but {detector.name} "
            f"is in use (YuNet's model is missing from {access.models_dir}, or another detector "
            "is configured): run `citywatch models fetch` and configure YuNet; nothing was exported"
        )


def _redactor(access: SubjectAccess, probe: Template) -> FaceRedactor:
    return FaceRedactor(
        access.redaction_detector(),
        access.embedder,
        probe,
        access.rules.keep_threshold,
        min_face_px=access.quality.min_face_px,
    )


@dataclass(frozen=True, slots=True)
class _Clip:
    path: Path
    started_at: datetime
    """Time of its first frame."""
    ended_at: datetime
    counts: RedactionCounts


def _redacted_clip(
    access: SubjectAccess, appearance: Appearance, folder: Path, n: int, probe: Template
) -> _Clip | None:
    """The appearance's footage with every face but the requester's blurred, in two passes
    over a stream-copied cut: decide each frame's boxes, then re-encode blurring each frame's
    boxes and its neighbours' (services.redaction). Frames before the appearance (the cut
    starts at the keyframe before it) are dropped. None when no footage of it is kept."""
    camera, start, end = appearance.camera_id, appearance.start, appearance.end
    if not _require_files(access, camera, access.footage.segments(camera, start, end)):
        return None  # seen in a stored sighting, but no footage of that stretch is kept
    try:
        raw = export_clip(
            access.footage,
            camera,
            start,
            end,
            folder / f"raw-{n}.mp4",
            configured=True,
            publish=lambda _c: None,  # the package, not each clip, is what is recorded
        )
    except NotFound:
        _require_files(access, camera, access.footage.segments(camera, start, end))  # one gone meanwhile
        return None  # the segments hold no frame inside the appearance
    out = folder / f"clip-{n}.mp4"
    redactor = _redactor(access, probe)
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


def _require_files(access: SubjectAccess, camera: str, segments: list[Segment]) -> list[Segment]:
    """`segments`, each with its file; a file gone is an error, never a stretch left out."""
    for segment in segments:
        if not access.footage.has_file(segment):
            raise Unavailable(
                f"footage segment #{segment.id} of camera {camera} is held for this request but its "
                f"file {segment.path} is missing; nothing was exported (the request stays approved)"
            )
    return segments


def _in_window(access: SubjectAccess, info: RequestInfo) -> list[SightingInfo]:
    start, end = info.window.start, info.window.end
    assert start is not None and end is not None
    return access.sightings.sightings_in(info.cameras, start, end)[0]
