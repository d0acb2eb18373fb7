"""Public subject access end to end on the Hamilton clip, recorded with identification off.

Lin-Manuel Miranda (on stage) and Barack Obama (in the audience) are both in the clip. Lin
files a request with his own photo: the system finds him in the footage and holds those
segments; a supervisor approves; the export shows Lin, and every other face is blurred past
what the embedder recognises, checked by running the redaction detector and the embedder on
the original and the exported frames."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from citywatch.config.ingest import CameraSettings
from citywatch.config.recording import RecordingSettings
from citywatch.config.settings import Settings
from citywatch.config.vision import HogSettings
from citywatch.domain.audit import SYSTEM, Actor
from citywatch.domain.errors import NoFace, NotFound, SeveralFaces, Unavailable
from citywatch.domain.policy import ProcessingMode, Window
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.media.images import read_image
from citywatch.media.video import video_frames
from citywatch.requests.export_store import EXPORTS_FOLDER
from citywatch.requests.fulfil import fulfil
from citywatch.requests.package import verify_package
from citywatch.requests.records import RequestInfo
from citywatch.requests.subject_access import SubjectSearch, file_subject_access, requester_face
from citywatch.retention.footage import export_clip
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import fulfilment, subject_access
from citywatch.store.staging import REQUEST_PHOTOS_FOLDER, WORK_FOLDER
from citywatch.vision.backends.hog import HogDetector

CLERK = Actor("cleo", "operator")
SAM = Actor("sam", "supervisor")
IOU_SAME_FACE = 0.3
CHECK_EVERY = 3
"""Exported frames checked: every third (each check detects and embeds two frames)."""
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Runtime]:
    tmp = tmp_path_factory.mktemp("subject-access")
    settings = Settings(
        data_dir=tmp / "data",
        models_dir=shared_data / "models",
        recording=RecordingSettings(segment_s=3),
        cameras=[CameraSettings(id="stage", url="unused.mp4", mode=ProcessingMode.RECORD)],
    )
    rt = Runtime(settings)
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    worker = rt.camera_worker(CameraSettings(id="stage", url=str(clip), mode=ProcessingMode.RECORD))
    worker.start()
    assert worker.join(240)
    yield rt
    rt.close()


def _window() -> Window:
    now = datetime.now(UTC)
    return Window(now - timedelta(hours=1), now + timedelta(minutes=5))


def file_as(
    rt: Runtime,
    photo: Path,
    *,
    requester: str = "A",
    contact: str = "",
    cameras: tuple[str, ...] = ("stage",),
) -> tuple[RequestInfo, SubjectSearch]:
    """A subject-access request filed by the clerk for the last hour on `cameras`."""
    return file_subject_access(
        subject_access(rt),
        requester=requester,
        contact=contact,
        cameras=list(cameras),
        window=_window(),
        photo=photo,
        by=CLERK,
    )


def _examples(shared_data: Path) -> Path:
    return shared_data / "face_recognition/examples"


def test_a_photo_without_exactly_one_face_is_refused_and_nothing_is_kept(
    recorded: Runtime, shared_data: Path, tmp_path: Path
) -> None:
    rt = recorded
    blank = tmp_path / "wall.jpg"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 180, np.uint8))
    before = (len(rt.requests.list()), _photos(rt))
    with pytest.raises(NoFace, match="no face found in the request photo"):
        file_as(rt, blank)
    with pytest.raises(SeveralFaces, match="photo of yourself alone"):
        file_as(rt, _examples(shared_data) / "two_people.jpg")
    with pytest.raises(NotFound, match="no camera gate"):
        file_as(rt, _examples(shared_data) / "obama.jpg", cameras=("gate",))
    assert (len(rt.requests.list()), _photos(rt)) == before


def test_someone_not_in_the_footage_gets_a_request_with_nothing_held(
    recorded: Runtime, shared_data: Path
) -> None:
    rt = recorded
    info, found = file_as(
        rt, _examples(shared_data) / "biden.jpg", requester="Joe Biden", contact="joe@example.org"
    )
    assert found.frames_scanned > 10 and found.faces_compared > 0
    assert found.appearances == [] and info.hold_id is not None  # the scope is held all the same
    (hold,) = [h for h in rt.retention.holds() if h.hold.id == info.hold_id]
    assert hold.hold.items == frozenset() and hold.hold.cameras == {"stage"}
    assert info.status is RequestStatus.FILED and info.kind is RequestKind.SUBJECT_ACCESS


def test_the_requester_is_found_held_and_exported_with_every_other_face_blurred(
    recorded: Runtime, shared_data: Path, tmp_path: Path
) -> None:
    rt = recorded
    lin_photo = _examples(shared_data) / "lin-manuel-miranda.png"
    info, found = file_as(rt, lin_photo, requester="Lin-Manuel Miranda", contact="lin@example.org")
    assert found.appearances, "Lin-Manuel Miranda is on stage in the clip"
    assert found.recordings and info.hold_id is not None
    hold = next(h for h in rt.retention.holds() if h.hold.id == info.hold_id)
    assert sorted(i for k, i in hold.hold.items if k == "recording") == found.recordings
    # the whole scope is held too, as when nobody is found: the public cannot tell the two apart
    assert hold.hold.cameras == {"stage"} and hold.hold.window == info.window
    searches = [e for e in rt.audit_log.entries() if e.action == "search.subject_access"]
    assert searches[-1].actor == SYSTEM.name and searches[-1].case == info.reference
    assert searches[-1].params["filed_by"] == CLERK.name
    assert info.photo_path is not None and info.photo_path.endswith(".jpg")
    stored = rt.blobs.absolute(info.photo_path).read_bytes()
    assert stored[:2] == b"\xff\xd8" and b"Exif" not in stored[:64], "kept re-encoded, without metadata"

    rt.requests.approve(info.id, by=SAM)
    done = fulfil(fulfilment(rt), info.id, by=SAM)
    assert done.status is RequestStatus.FULFILLED and done.photo_path is None
    assert not rt.blobs.absolute(info.photo_path).exists(), "the photo goes once answered"
    work = rt.settings.data_dir / WORK_FOLDER
    assert not work.exists() or not any(work.iterdir()), "no working file outlives the export"

    package = next((rt.settings.data_dir / EXPORTS_FOLDER).rglob(f"request-{info.id}-*.zip"))
    assert verify_package(package, rt.audit_log.public_key).ok
    out = tmp_path / "export"
    with zipfile.ZipFile(package) as z:
        z.extractall(out)
    for record in json.loads((out / "sightings.json").read_text()):
        assert set(record) == {"id", "camera_id", "started_at", "ended_at"}
    described = json.loads((out / "request.json").read_text())["clips"]
    clips = sorted((out / "clips").glob("*.mp4"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    assert len(clips) == len(found.appearances) == len(described)

    lin = requester_face(subject_access(rt), read_image(lin_photo), lin_photo.name)
    threshold = rt.settings.matching.search_threshold
    lin_visible = bystanders = 0
    for n, (clip, appearance, about) in enumerate(zip(clips, found.appearances, described, strict=True)):
        assert datetime.fromisoformat(about["from"]) >= appearance.start, "no frame before the appearance"
        original = export_clip(
            rt.footage,
            "stage",
            appearance.start,
            appearance.end,
            tmp_path / f"original-{n}.mp4",
            configured=True,
            publish=lambda _c: None,
        )
        skip_s = (appearance.start - original.started_at).total_seconds()
        pairs = list(zip(video_frames(original.path, skip_s=skip_s), video_frames(clip), strict=True))
        assert pairs
        for before, after in pairs[::CHECK_EVERY]:
            visible, examined = _check_frame(rt, before.image, after.image, lin, threshold)
            lin_visible += visible
            bystanders += examined
    assert lin_visible > 5, "the requester stays visible in the export"
    assert bystanders > 0, "the check saw faces other than the requester's in the original frames"


def _check_frame(
    rt: Runtime, before: np.ndarray, after: np.ndarray, lin: np.ndarray, threshold: float
) -> tuple[int, int]:
    """Every face of the original frame that is not Lin's is, in the exported frame, either
    not found by the (redaction) detector or too far from its original template to be
    recognised. Returns whether Lin is recognisable, and how many other faces were checked."""
    detector = rt.redaction_detector
    originals = detector.detect(before)
    if not len(originals):
        return 0, 0
    known = rt.embedder.embed(before, originals)
    others = np.flatnonzero(np.linalg.norm(known - lin[None], axis=1) >= threshold)
    seen = detector.detect(after)
    if not len(seen):
        return 0, len(others)
    exported = rt.embedder.embed(after, seen)
    for i in others:
        overlap = _iou(originals.xyxy[i], seen.xyxy)
        for j in np.flatnonzero(overlap > IOU_SAME_FACE):
            distance = float(np.linalg.norm(exported[j] - known[i]))
            assert distance >= threshold, f"a bystander is recognisable ({distance:.2f})"
    return int((np.linalg.norm(exported - lin[None], axis=1) < threshold).any()), len(others)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / np.maximum(area - inter, 1e-9))


def _photos(rt: Runtime) -> int:
    folder = rt.blobs.root / REQUEST_PHOTOS_FOLDER
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def test_an_export_that_cannot_be_made_whole_is_not_made(
    recorded: Runtime, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without YuNet, or with a held segment's file gone: a clear error, no package, and the
    request still approved (to be fulfilled once fixed). Runs last: it moves a file aside."""
    rt = recorded
    info, found = file_as(
        rt,
        _examples(shared_data) / "lin-manuel-miranda.png",
        requester="Lin-Manuel Miranda",
        contact="lin@example.org",
    )
    rt.requests.approve(info.id, by=SAM)
    exports = rt.settings.data_dir / EXPORTS_FOLDER

    def packages() -> list[Path]:
        return sorted(exports.rglob(f"request-{info.id}-*.zip")) if exports.exists() else []

    monkeypatch.setitem(rt.__dict__, "redaction_detector", HogDetector(HogSettings()))
    with pytest.raises(Unavailable, match="redacted with the YuNet face detector"):
        fulfil(fulfilment(rt), info.id, by=SAM)
    monkeypatch.delitem(rt.__dict__, "redaction_detector")

    segment = rt.footage.segment(found.recordings[0])
    path = rt.footage.absolute(segment.path)
    aside = path.with_suffix(".aside")
    path.rename(aside)
    try:
        with pytest.raises(Unavailable, match=f"#{segment.id}.*missing"):
            fulfil(fulfilment(rt), info.id, by=SAM)
    finally:
        aside.rename(path)
    assert packages() == []
    assert rt.requests.get(info.id).status is RequestStatus.APPROVED
