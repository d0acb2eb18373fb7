"""Public subject access end to end on the Hamilton clip, recorded with identification off.

Lin-Manuel Miranda (on stage) and Barack Obama (in the audience) are both in the clip. Lin
files a request with his own photo: the system finds him in the footage and holds those
segments; a supervisor approves; the export shows Lin, and every other face (Obama's
included) is blurred past what the embedder recognises, checked by running the detector
and the embedder on the exported frames."""

from __future__ import annotations

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
from citywatch.domain.audit import Actor
from citywatch.domain.errors import NoFace, NotFound, SeveralFaces
from citywatch.domain.policy import ProcessingMode, Window
from citywatch.exports.package import verify_package
from citywatch.media.video import video_frames
from citywatch.runtime.build import Runtime
from citywatch.services.footage import export_clip
from citywatch.services.requests import fulfil
from citywatch.services.subject_access import file_subject_access, requester_template
from citywatch.store.exports import EXPORTS_FOLDER
from citywatch.store.facade import REQUEST_PHOTOS_FOLDER
from citywatch.store.governance import SYSTEM
from citywatch.store.requests import RequestKind, RequestStatus

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
        file_subject_access(
            rt, requester="A", contact="", cameras=["stage"], window=_window(), photo=blank, by=CLERK
        )
    with pytest.raises(SeveralFaces, match="photo of yourself alone"):
        file_subject_access(
            rt,
            requester="A",
            contact="",
            cameras=["stage"],
            window=_window(),
            photo=_examples(shared_data) / "two_people.jpg",
            by=CLERK,
        )
    with pytest.raises(NotFound, match="no camera gate"):
        file_subject_access(
            rt,
            requester="A",
            contact="",
            cameras=["gate"],
            window=_window(),
            photo=_examples(shared_data) / "obama.jpg",
            by=CLERK,
        )
    assert (len(rt.requests.list()), _photos(rt)) == before


def test_someone_not_in_the_footage_gets_a_request_with_nothing_held(
    recorded: Runtime, shared_data: Path
) -> None:
    rt = recorded
    info, found = file_subject_access(
        rt,
        requester="Joe Biden",
        contact="joe@example.org",
        cameras=["stage"],
        window=_window(),
        photo=_examples(shared_data) / "biden.jpg",
        by=CLERK,
    )
    assert found.frames_scanned > 10 and found.faces_compared > 0
    assert found.appearances == [] and info.hold_id is None
    assert info.status is RequestStatus.FILED and info.kind is RequestKind.SUBJECT_ACCESS


def test_the_requester_is_found_held_and_exported_with_every_other_face_blurred(
    recorded: Runtime, shared_data: Path, tmp_path: Path
) -> None:
    rt = recorded
    lin_photo = _examples(shared_data) / "lin-manuel-miranda.png"
    info, found = file_subject_access(
        rt,
        requester="Lin-Manuel Miranda",
        contact="lin@example.org",
        cameras=["stage"],
        window=_window(),
        photo=lin_photo,
        by=CLERK,
    )
    assert found.appearances, "Lin-Manuel Miranda is on stage in the clip"
    assert found.recordings and info.hold_id is not None
    hold = next(h for h in rt.retention.holds() if h.hold.id == info.hold_id)
    assert sorted(i for k, i in hold.hold.items if k == "recording") == found.recordings
    assert not hold.hold.cameras, "the hold names what was found, not the whole window"
    searches = [e for e in rt.audit_log.entries() if e.action == "search.subject_access"]
    assert searches[-1].actor == SYSTEM.name and searches[-1].case == info.reference
    assert info.photo_path is not None and rt.store.blobs.absolute(info.photo_path).is_file()

    rt.requests.approve(info.id, by=SAM)
    done = fulfil(rt, info.id, by=SAM)
    assert done.status is RequestStatus.FULFILLED and done.photo_path is None
    assert not rt.store.blobs.absolute(info.photo_path).exists(), "the photo goes once answered"

    package = next((rt.settings.data_dir / EXPORTS_FOLDER).rglob(f"request-{info.id}-*.zip"))
    assert verify_package(package, rt.audit_log.public_key).ok
    out = tmp_path / "export"
    with zipfile.ZipFile(package) as z:
        z.extractall(out)
    clips = sorted((out / "clips").glob("*.mp4"))
    assert len(clips) == len(found.appearances)

    lin = requester_template(rt, lin_photo)
    obama = requester_template(rt, _examples(shared_data) / "obama.jpg")
    threshold = rt.settings.matching.search_threshold
    lin_visible = 0
    for n, (clip, appearance) in enumerate(zip(clips, found.appearances, strict=True)):
        original = export_clip(
            rt.footage,
            "stage",
            appearance.start,
            appearance.end,
            tmp_path / f"original-{n}.mp4",
            configured=True,
            publish=lambda _c: None,
        )
        pairs = list(zip(video_frames(original.path), video_frames(clip), strict=True))
        assert pairs
        for before, after in pairs[::CHECK_EVERY]:
            lin_visible += _check_frame(rt, before.image, after.image, lin, obama, threshold)
    assert lin_visible > 5, "the requester stays visible in the export"


def _check_frame(
    rt: Runtime, before: np.ndarray, after: np.ndarray, lin: np.ndarray, obama: np.ndarray, threshold: float
) -> int:
    """Every face of the original frame that is not Lin's is, in the exported frame, either
    not found by the detector or too far from its original template to be recognised; no
    face of the exported frame is recognisable as Obama. Returns 1 if Lin is recognisable."""
    seen = rt.detector.detect(after)
    if not len(seen):
        return 0
    exported = rt.embedder.embed(after, seen)
    assert (np.linalg.norm(exported - obama[None], axis=1) >= threshold).all(), "Obama is recognisable"
    originals = rt.detector.detect(before)
    if len(originals):
        known = rt.embedder.embed(before, originals)
        for i in np.flatnonzero(np.linalg.norm(known - lin[None], axis=1) >= threshold):
            overlap = _iou(originals.xyxy[i], seen.xyxy)
            for j in np.flatnonzero(overlap > IOU_SAME_FACE):
                distance = float(np.linalg.norm(exported[j] - known[i]))
                assert distance >= threshold, f"a bystander is recognisable ({distance:.2f})"
    return int((np.linalg.norm(exported - lin[None], axis=1) < threshold).any())


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / np.maximum(area - inter, 1e-9))


def _photos(rt: Runtime) -> int:
    folder = rt.store.blobs.root / REQUEST_PHOTOS_FOLDER
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
