import numpy as np
import pytest

from citywatch.config.vision import QualitySettings
from citywatch.domain.faces import FaceDetections
from citywatch.vision.quality import QualityGate, pose_from_landmarks
from tests.fakes.vision import face_box


def turned(yaw_deg: float, roll_deg: float = 0.0) -> np.ndarray:
    """Landmarks of a face of eye distance 40 turned by yaw and tilted by roll (model of
    `pose_from_landmarks`: the nose stands half an eye distance in front of the eyes)."""
    d = 40 * np.cos(np.radians(yaw_deg))
    nose_dx = 20 * np.sin(np.radians(yaw_deg))
    pts = np.array([[-d / 2, 0], [d / 2, 0], [nose_dx, 20], [-15, 35], [15, 35]], np.float32)
    r = np.radians(roll_deg)
    rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]], np.float32)
    return pts @ rot.T + 100


@pytest.mark.parametrize(("yaw", "roll"), [(0, 0), (20, 0), (-45, 0), (0, 15), (30, -20)])
def test_pose_from_landmarks_recovers_the_angles(yaw: float, roll: float) -> None:
    got_yaw, got_roll = pose_from_landmarks(turned(yaw, roll)[None])
    assert got_yaw[0] == pytest.approx(yaw, abs=1.0)
    assert got_roll[0] == pytest.approx(roll, abs=1.0)


def noisy(size: int = 300) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 255, (size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("size", "score", "yaw", "image", "reason"),
    [
        (80, 0.95, 0, "noisy", None),
        (20, 0.95, 0, "noisy", "too small"),
        (80, 0.5, 0, "noisy", "low score"),
        (80, 0.95, 0, "flat", "blurred"),
        (80, 0.95, 70, "noisy", "turned away"),
    ],
)
def test_gate_keeps_good_faces_and_names_the_reason(
    size: int, score: float, yaw: float, image: str, reason: str | None
) -> None:
    box, _ = face_box(50, 50, size)
    marks = turned(yaw) - 100 + np.array([50 + size / 2, 50 + size / 2])
    faces = FaceDetections.from_arrays([box], [score], marks[None])
    img = noisy() if image == "noisy" else np.full((300, 300, 3), 128, np.uint8)
    gate = QualityGate(QualitySettings())
    kept = gate.assess(img, faces)
    assert len(kept) == (1 if reason is None else 0)
    if reason is None:
        assert 0 < kept.quality[0] <= 1
    else:
        assert gate.rejected[reason] == 1
        assert sum(gate.rejected.values()) == 1
