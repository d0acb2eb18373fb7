"""One camera's pipeline: detect → quality gate → track → embed best shots → match → sighting.

Driven frame by frame from one thread; the store is the only thing it writes to.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from citywatch.config.ingest import ProcessingMode
from citywatch.domain.faces import FaceDetections
from citywatch.domain.frames import Frame
from citywatch.domain.matching import MatchResult
from citywatch.domain.ports import Detector, Embedder
from citywatch.domain.tracks import Track
from citywatch.match.index import WatchlistIndex, aggregate
from citywatch.store.records import SightingRecord, SightingSaved
from citywatch.track.tracker import Tracker
from citywatch.vision.images import encode_jpeg
from citywatch.vision.quality import QualityGate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrackOutcome:
    """What became of one finished track; `saved` is None when nothing was stored."""

    track: Track
    match: MatchResult
    saved: SightingSaved | None


@dataclass(slots=True)
class PipelineStats:
    frames: int = 0
    faces_detected: int = 0
    faces_kept: int = 0
    tracks: int = 0
    embeddings: int = 0
    sightings: int = 0
    matches: int = 0
    alerts: int = 0
    discarded: int = 0
    """Finished tracks that matched nothing in watchlist mode: dropped, nothing biometric kept."""
    rejected: Counter[str] = field(default_factory=Counter)


class CameraPipeline:
    def __init__(
        self,
        *,
        camera_id: str,
        mode: ProcessingMode,
        detector: Detector,
        gate: QualityGate,
        tracker: Tracker,
        embedder: Embedder,
        index: Callable[[], WatchlistIndex],
        save: Callable[[SightingRecord], SightingSaved],
        embed_shots: int,
        still_images: bool = False,
    ) -> None:
        self.camera_id = camera_id
        self._mode = mode
        self._detector = detector
        self._gate = gate
        self._tracker = tracker
        self._embedder = embedder
        self._index = index
        self._save = save
        self._embed_shots = embed_shots
        self._still = still_images
        self.stats = PipelineStats(rejected=gate.rejected)

    @property
    def active_tracks(self) -> int:
        return self._tracker.active

    def process(self, frame: Frame) -> list[TrackOutcome]:
        faces = self._detector.detect(frame.image)
        kept = self._gate.assess(frame.image, faces)
        self.stats.frames += 1
        self.stats.faces_detected += len(faces)
        self.stats.faces_kept += len(kept)
        finished = self._tracker.update(frame, kept)
        if self._still:  # each image of a folder is its own scene
            finished += self._tracker.flush()
        return [self._finish(t) for t in finished]

    def flush(self) -> list[TrackOutcome]:
        """End all open tracks (end of source or shutdown) and store them."""
        return [self._finish(t) for t in self._tracker.flush()]

    def _finish(self, track: Track) -> TrackOutcome:
        self.stats.tracks += 1
        template = self._embed(track)
        match = self._index().match(template)
        if match.is_match:
            self.stats.matches += 1
        if self._mode is ProcessingMode.WATCHLIST and not match.is_match:
            self.stats.discarded += 1
            return TrackOutcome(track, match, None)
        record = SightingRecord(
            camera_id=self.camera_id,
            track_id=track.track_id,
            started_at=track.started_at,
            ended_at=track.ended_at,
            detections=track.detections,
            quality=track.best_quality,
            crop_jpeg=encode_jpeg(track.best.crop),
            model=self._embedder.name,
            template=template,
            match=match,
        )
        saved = self._save(record)
        self.stats.sightings += 1
        self.stats.alerts += saved.alert_id is not None
        return TrackOutcome(track, match, saved)

    def _embed(self, track: Track) -> np.ndarray:
        vectors = []
        for shot in track.shots[: self._embed_shots]:
            face = FaceDetections.from_arrays(shot.box[None], [shot.score], shot.landmarks[None])
            vectors.append(self._embedder.embed(shot.crop, face)[0])
        self.stats.embeddings += len(vectors)
        return aggregate(np.stack(vectors))
