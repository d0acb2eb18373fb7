"""Best-shot selection: the K highest-quality crops of a track, cut with context."""

from __future__ import annotations

import numpy as np

from citywatch.domain.faces import FaceDetections
from citywatch.domain.frames import Frame
from citywatch.domain.tracks import FaceShot, Track

CROP_CONTEXT = 0.4
"""Crops extend this fraction of the face size beyond the box on each side (alignment needs it)."""


def cut_shot(frame: Frame, faces: FaceDetections, i: int) -> FaceShot:
    """A padded copy of face `i`, with its box and landmarks moved into crop coordinates."""
    x1, y1, x2, y2 = (float(v) for v in faces.xyxy[i])
    pad = CROP_CONTEXT * max(x2 - x1, y2 - y1)
    cx1, cy1 = max(int(x1 - pad), 0), max(int(y1 - pad), 0)
    cx2, cy2 = min(int(x2 + pad) + 1, frame.width), min(int(y2 + pad) + 1, frame.height)
    origin = np.array([cx1, cy1], np.float32)
    return FaceShot(
        frame_index=frame.index,
        pts_s=frame.pts_s,
        captured_at=frame.captured_at,
        crop=frame.image[cy1:cy2, cx1:cx2].copy(),
        crop_origin=(cx1, cy1),
        box=(faces.xyxy[i].reshape(2, 2) - origin).reshape(4),
        landmarks=faces.landmarks[i] - origin,
        score=float(faces.score[i]),
        quality=float(faces.quality[i]),
    )


def offer(track: Track, frame: Frame, faces: FaceDetections, i: int, keep: int) -> None:
    """Add face `i` to the track's best shots if it is among the `keep` best so far."""
    quality = float(faces.quality[i])
    if len(track.shots) >= keep and quality <= track.shots[-1].quality:
        return
    track.shots.append(cut_shot(frame, faces, i))
    track.shots.sort(key=lambda s: s.quality, reverse=True)
    del track.shots[keep:]
