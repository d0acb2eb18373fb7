"""Tracks and their best shots: a face followed across frames of one camera."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from citywatch.domain.faces import FloatArray
from citywatch.domain.frames import Image


@dataclass(frozen=True, slots=True)
class FaceShot:
    """One detection of a track, kept with a padded crop so it can be embedded later.

    `box` and `landmarks` are in crop coordinates; `crop_origin` is where the crop's
    top-left corner lies in the frame.
    """

    frame_index: int
    pts_s: float
    captured_at: datetime
    crop: Image
    crop_origin: tuple[int, int]
    box: FloatArray
    landmarks: FloatArray
    score: float
    quality: float


@dataclass(slots=True, eq=False)
class Track:
    """A face followed across frames; `shots` are the best K by quality, best first."""

    track_id: int
    camera_id: str
    started_at: datetime
    ended_at: datetime
    first_pts_s: float
    last_pts_s: float
    last_box: FloatArray
    detections: int = 0
    shots: list[FaceShot] = field(default_factory=list)

    @property
    def best(self) -> FaceShot:
        return self.shots[0]

    @property
    def best_quality(self) -> float:
        return self.shots[0].quality if self.shots else 0.0
