"""A decoded video frame as it leaves a source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
"""An H x W x 3 BGR image, OpenCV's layout."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of one camera.

    `index` counts the frames the source decoded (sampled or not); `pts_s` is the
    position in the source in seconds; `captured_at` the wall-clock time it stands for.
    """

    camera_id: str
    index: int
    pts_s: float
    captured_at: datetime
    image: Image

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
