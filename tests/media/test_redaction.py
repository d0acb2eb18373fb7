"""The subject-access redactor: the subject's face stays, every other face is filled with a
solid colour, in the frames around each detection too (before the first one and through
missed ones), and a followed face is not embedded every frame."""

from __future__ import annotations

import numpy as np
import pytest

from citywatch.media.redaction import FaceRedactor, redact, spread
from tests.fakes.vision import FakeDetector, FakeEmbedder, frame_with_faces

SUBJECT_G, OTHER_G = 200, 40
SUBJECT = np.full(4, SUBJECT_G / 255, np.float32)
AT_SUBJECT, AT_OTHER = (50, 50), (300, 100)


def _redactor(**kw: int) -> tuple[FaceRedactor, FakeEmbedder]:
    embedder = FakeEmbedder()
    return FaceRedactor(FakeDetector(), embedder, SUBJECT, threshold=0.1, **kw), embedder


def _two_passes(redactor: FaceRedactor, frames: list[np.ndarray], linger: int) -> list[np.ndarray]:
    """What an export does with a clip: decide every frame, then blur with the spread plan."""
    plan = spread([redactor.boxes(f) for f in frames], linger)
    return [redact(f, boxes) for f, boxes in zip(frames, plan, strict=True)]


def _region(image: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    x, y = at
    return image[y : y + 80, x : x + 80]


def _filled(image: np.ndarray, at: tuple[int, int]) -> bool:
    region = _region(image, at)
    return bool((region == region[0, 0]).all())


def _both() -> np.ndarray:
    return frame_with_faces([(*AT_SUBJECT, SUBJECT_G), (*AT_OTHER, OTHER_G)])


def _alone() -> np.ndarray:
    return frame_with_faces([(*AT_SUBJECT, SUBJECT_G)])


def test_the_subject_stays_and_the_other_face_is_filled_with_one_colour() -> None:
    redactor, _ = _redactor()
    frame = _both()
    (out,) = _two_passes(redactor, [frame], linger=0)
    assert np.array_equal(_region(out, AT_SUBJECT), _region(frame, AT_SUBJECT))
    assert _filled(out, AT_OTHER) and not _filled(frame, AT_OTHER)
    assert (redactor.counts.kept, redactor.counts.blurred) == (1, 1)


def test_a_face_is_covered_before_its_first_detection_and_after_its_last() -> None:
    redactor, _ = _redactor()
    frames = [_alone(), _alone(), _alone(), _both(), _alone(), _alone(), _alone()]
    out = _two_passes(redactor, frames, linger=2)
    covered = [_filled(f, AT_OTHER) for f in out]
    assert covered == [False, True, True, True, True, True, False]
    kept = [
        np.array_equal(_region(o, AT_SUBJECT), _region(f, AT_SUBJECT))
        for o, f in zip(out, frames, strict=True)
    ]
    assert all(kept), "the subject is never covered"


def test_only_one_face_is_kept_even_when_two_look_like_the_subject() -> None:
    redactor, _ = _redactor()
    redactor.boxes(frame_with_faces([(*AT_SUBJECT, SUBJECT_G), (*AT_OTHER, SUBJECT_G + 3)]))
    assert (redactor.counts.kept, redactor.counts.blurred) == (1, 1)


def test_nobody_is_kept_when_no_face_matches() -> None:
    redactor, _ = _redactor()
    frame = frame_with_faces([(*AT_SUBJECT, 120), (*AT_OTHER, OTHER_G)])
    (out,) = _two_passes(redactor, [frame], linger=0)
    assert redactor.counts.kept == 0
    assert _filled(out, AT_SUBJECT) and _filled(out, AT_OTHER)


def test_the_subject_is_compared_every_frame_and_others_only_every_recheck_frames() -> None:
    redactor, embedder = _redactor(recheck=5)
    for _ in range(20):
        redactor.boxes(_both())
    assert embedder.calls == 20 + 4, "the subject each frame; the other on frames 1, 6, 11, 16"
    assert (redactor.counts.kept, redactor.counts.blurred) == (20, 20)


def test_a_stranger_where_the_subject_was_is_blurred_at_once() -> None:
    redactor, _ = _redactor()
    cut = frame_with_faces([(*AT_SUBJECT, OTHER_G + 20)])  # a new shot: someone else there
    _, out = _two_passes(redactor, [_both(), cut], linger=0)
    assert _filled(out, AT_SUBJECT)


def test_faces_too_small_to_compare_are_blurred_unexamined() -> None:
    redactor, embedder = _redactor(min_face_px=100)
    (out,) = _two_passes(redactor, [_both()], linger=0)
    assert embedder.calls == 0 and redactor.counts.kept == 0
    assert _filled(out, AT_SUBJECT) and _filled(out, AT_OTHER)


A, B = np.array([[0, 0, 10, 10]], np.float32), np.array([[50, 50, 60, 60]], np.float32)
NONE = np.zeros((0, 4), np.float32)


@pytest.mark.parametrize(
    ("boxes", "linger", "expected"),
    [
        ([A, NONE, NONE, NONE], 1, [1, 1, 0, 0]),
        ([NONE, NONE, A, NONE, NONE], 1, [0, 1, 1, 1, 0]),
        ([NONE, NONE, A, NONE, NONE], 2, [1, 1, 1, 1, 1]),
        ([A, B, NONE], 0, [1, 1, 0]),
        ([A, B, NONE], 1, [2, 2, 1]),
        ([], 3, []),
    ],
)
def test_spread_blurs_each_box_in_the_frames_around_it(
    boxes: list[np.ndarray], linger: int, expected: list[int]
) -> None:
    plan = spread(boxes, linger)
    assert [len(p) for p in plan] == expected
    assert all(p.shape[1:] == (4,) for p in plan)


def test_nothing_to_blur_leaves_the_frame_as_it_is() -> None:
    frame = _both()
    assert redact(frame, NONE) is frame
