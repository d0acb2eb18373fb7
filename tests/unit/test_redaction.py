"""The subject-access redactor: the subject's face stays, every other face is blurred and
stays blurred through a missed detection, and a followed face is not embedded every frame."""

from __future__ import annotations

import numpy as np

from citywatch.services.redaction import FaceRedactor
from tests.fakes.vision import FakeDetector, FakeEmbedder, frame_with_faces

SUBJECT_G, OTHER_G = 200, 40
SUBJECT = np.full(4, SUBJECT_G / 255, np.float32)
AT_SUBJECT, AT_OTHER = (50, 50), (300, 100)


def _redactor(**kw: int) -> tuple[FaceRedactor, FakeEmbedder]:
    embedder = FakeEmbedder()
    return FaceRedactor(FakeDetector(), embedder, SUBJECT, threshold=0.1, **kw), embedder


def _region(image: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    x, y = at
    return image[y : y + 80, x : x + 80]


def _both() -> np.ndarray:
    return frame_with_faces([(*AT_SUBJECT, SUBJECT_G), (*AT_OTHER, OTHER_G)])


def test_the_subject_stays_and_the_other_face_is_pixelated() -> None:
    redact, _ = _redactor()
    frame = _both()
    out = redact(frame)
    assert np.array_equal(_region(out, AT_SUBJECT), _region(frame, AT_SUBJECT))
    # a mosaic: the blurred face has far fewer distinct values than the noisy original
    assert (
        len(np.unique(_region(out, AT_OTHER)[:, :, 0]))
        <= 36
        < len(np.unique(_region(frame, AT_OTHER)[:, :, 0]))
    )
    assert (redact.counts.kept, redact.counts.blurred) == (1, 1)


def test_a_blurred_face_stays_blurred_through_missed_detections_then_clears() -> None:
    redact, _ = _redactor(linger=3)
    redact(_both())
    alone = frame_with_faces([(*AT_SUBJECT, SUBJECT_G)])
    for _ in range(2):  # the other face is missed by the detector: its place stays blurred
        assert not np.array_equal(_region(redact(alone), AT_OTHER), _region(alone, AT_OTHER))
    assert np.array_equal(redact(alone), alone), "after `linger` frames nothing is left blurred"


def test_only_one_face_is_kept_even_when_two_look_like_the_subject() -> None:
    redact, _ = _redactor()
    frame = frame_with_faces([(*AT_SUBJECT, SUBJECT_G), (*AT_OTHER, SUBJECT_G + 3)])
    redact(frame)
    assert (redact.counts.kept, redact.counts.blurred) == (1, 1)


def test_nobody_is_kept_when_no_face_matches() -> None:
    redact, _ = _redactor()
    frame = frame_with_faces([(*AT_SUBJECT, 120), (*AT_OTHER, OTHER_G)])
    out = redact(frame)
    assert redact.counts.kept == 0
    assert not np.array_equal(_region(out, AT_SUBJECT), _region(frame, AT_SUBJECT))


def test_the_subject_is_compared_every_frame_and_others_only_every_recheck_frames() -> None:
    redact, embedder = _redactor(recheck=5)
    for _ in range(20):
        redact(_both())
    assert embedder.calls == 20 + 4, "the subject each frame; the other on frames 1, 6, 11, 16"
    assert (redact.counts.kept, redact.counts.blurred) == (20, 20)


def test_a_stranger_where_the_subject_was_is_blurred_at_once() -> None:
    redact, _ = _redactor()
    redact(_both())
    cut = frame_with_faces([(*AT_SUBJECT, OTHER_G + 20)])  # a new shot: someone else there
    out = redact(cut)
    assert not np.array_equal(_region(out, AT_SUBJECT), _region(cut, AT_SUBJECT))


def test_faces_too_small_to_compare_are_blurred_unexamined() -> None:
    redact, embedder = _redactor(min_face_px=100)
    out = redact(_both())
    assert embedder.calls == 0 and redact.counts.kept == 0
    assert not np.array_equal(_region(out, AT_SUBJECT), _region(_both(), AT_SUBJECT))
