import numpy as np
import pytest

from citywatch.domain.errors import InvalidInput
from citywatch.domain.faces import FaceDetections, iou_matrix


def faces(n: int) -> FaceDetections:
    boxes = np.array([[i * 10, 0, i * 10 + 8, 8] for i in range(n)], np.float32)
    return FaceDetections.from_arrays(boxes, np.linspace(0.5, 1, n), np.zeros((n, 5, 2)))


def test_mask_selects_all_fields_together() -> None:
    f = faces(4)
    sub = f[f.score > 0.7]
    assert len(sub) == 2
    assert np.allclose(sub.xyxy[:, 0], [20, 30])
    assert sub.landmarks.shape == (2, 5, 2)
    assert np.isnan(sub.quality).all()


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="landmarks"):
        FaceDetections(np.zeros((2, 4), np.float32), np.zeros(2, np.float32), np.zeros((2, 4, 2), np.float32))


def test_scaled_maps_back_to_original_coordinates() -> None:
    f = FaceDetections.from_arrays([[110, 120, 130, 140]], [0.9], np.full((1, 5, 2), 115))
    back = f.scaled(2.0, offset=(100, 100))
    assert back.xyxy.tolist() == [[20, 40, 60, 80]]
    assert back.landmarks[0, 0].tolist() == [30, 30]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
    ],
)
def test_iou(a: list[float], b: list[float], expected: float) -> None:
    got = iou_matrix(np.array([a], np.float32), np.array([b], np.float32))
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(expected, abs=1e-6)
