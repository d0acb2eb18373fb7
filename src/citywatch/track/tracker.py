"""Per-camera face tracker: greedy IoU association with a centre-distance fallback.

State lives in one `Tracker` per camera, driven from one thread. No I/O.
"""

from __future__ import annotations

import numpy as np

from citywatch.config.pipeline import TrackerSettings
from citywatch.domain.faces import FaceDetections, FloatArray, iou_matrix
from citywatch.domain.frames import Frame
from citywatch.domain.tracks import Track
from citywatch.track.bestshots import offer

CENTRE_FALLBACK = 1.0
"""Without enough overlap, a face still continues a track whose centre is within this
many face widths and whose size differs by less than 2x (fast motion at low detect fps)."""


class Tracker:
    def __init__(self, settings: TrackerSettings, camera_id: str) -> None:
        self._s = settings
        self._camera_id = camera_id
        self._active: list[Track] = []
        self._next_id = 1

    @property
    def active(self) -> int:
        return len(self._active)

    def update(self, frame: Frame, faces: FaceDetections) -> list[Track]:
        """Feed the faces of one frame; returns the tracks that finished (long enough ones only)."""
        # Tracks unseen for too long end before association: after a stall or dropped
        # frames, a new face in the same place must not continue an old track.
        expired = [t for t in self._active if frame.pts_s - t.last_pts_s > self._s.max_gap_s]
        self._active = [t for t in self._active if t not in expired]
        pairs = _associate(np.array([t.last_box for t in self._active]).reshape(-1, 4), faces.xyxy, self._s)
        matched_faces = set()
        for ti, fi in pairs:
            self._extend(self._active[ti], frame, faces, fi)
            matched_faces.add(fi)
        for fi in range(len(faces)):
            if fi not in matched_faces:
                self._start(frame, faces, fi)
        return self._worth_keeping(expired)

    def flush(self) -> list[Track]:
        """End every open track (end of a source, shutdown)."""
        ended, self._active = self._active, []
        return self._worth_keeping(ended)

    def _worth_keeping(self, tracks: list[Track]) -> list[Track]:
        return [t for t in tracks if t.detections >= self._s.min_detections and t.shots]

    def _start(self, frame: Frame, faces: FaceDetections, i: int) -> None:
        track = Track(
            track_id=self._next_id,
            camera_id=self._camera_id,
            started_at=frame.captured_at,
            ended_at=frame.captured_at,
            first_pts_s=frame.pts_s,
            last_pts_s=frame.pts_s,
            last_box=faces.xyxy[i].copy(),
        )
        self._next_id += 1
        self._active.append(track)
        self._extend(track, frame, faces, i)

    def _extend(self, track: Track, frame: Frame, faces: FaceDetections, i: int) -> None:
        track.ended_at = frame.captured_at
        track.last_pts_s = frame.pts_s
        track.last_box = faces.xyxy[i].copy()
        track.detections += 1
        offer(track, frame, faces, i, self._s.best_shots)


def _associate(tracks: FloatArray, faces: FloatArray, s: TrackerSettings) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs (track index, face index), best affinity first."""
    if len(tracks) == 0 or len(faces) == 0:
        return []
    affinity = iou_matrix(tracks, faces)
    fallback = _centre_affinity(tracks, faces)
    affinity = np.where(affinity >= s.iou_threshold, 1.0 + affinity, fallback)
    pairs: list[tuple[int, int]] = []
    used_t: set[int] = set()
    used_f: set[int] = set()
    for flat in np.argsort(-affinity, axis=None):
        ti, fi = divmod(int(flat), affinity.shape[1])
        if affinity[ti, fi] <= 0:
            break
        if ti in used_t or fi in used_f:
            continue
        pairs.append((ti, fi))
        used_t.add(ti)
        used_f.add(fi)
    return pairs


def _centre_affinity(tracks: FloatArray, faces: FloatArray) -> FloatArray:
    """In (0, 1) for plausible continuations without overlap, 0 otherwise."""
    tc = (tracks[:, :2] + tracks[:, 2:]) / 2
    fc = (faces[:, :2] + faces[:, 2:]) / 2
    tw = np.maximum(tracks[:, 2] - tracks[:, 0], 1.0)
    fw = np.maximum(faces[:, 2] - faces[:, 0], 1.0)
    dist = np.linalg.norm(tc[:, None] - fc[None], axis=2) / tw[:, None]
    ratio = fw[None, :] / tw[:, None]
    ok = (dist < CENTRE_FALLBACK) & (ratio > 0.5) & (ratio < 2.0)
    return np.where(ok, 1.0 - dist / CENTRE_FALLBACK, 0.0).astype(np.float32) * 0.99
