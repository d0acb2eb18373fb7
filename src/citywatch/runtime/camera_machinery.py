"""What a camera worker is built from, in one place for every process that runs cameras:
`citywatch run` (sightings stored in process, footage indexed at once) and `citywatch worker`
(sightings and segments handed to the bus). Only `save` and `segments` differ between them;
the policy, the models, the gallery and the order checks are the same code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.footage import SegmentSink
from citywatch.domain.orders import OrderCheck
from citywatch.domain.policy import CameraPlace, ModeDecision, ProcessingMode, mode_for
from citywatch.domain.ports import Detector, Embedder
from citywatch.domain.records import SightingRecord, SightingSaved
from citywatch.governance.policy import PolicyService
from citywatch.ingest.folder import FolderSource
from citywatch.ingest.open import open_source
from citywatch.ingest.recorder import Recorder
from citywatch.ingest.stream import StreamSource
from citywatch.pipeline.camera import CameraPipeline, TrackOutcome
from citywatch.pipeline.live import LiveCameras
from citywatch.pipeline.worker import CameraWorker
from citywatch.track.tracker import Tracker
from citywatch.vision.quality import QualityGate
from citywatch.watchlists.gallery import Gallery


@dataclass(frozen=True, slots=True)
class CameraMachinery:
    settings: Settings
    detector: Detector
    embedder: Embedder
    gallery: Gallery
    policy: PolicyService
    orders: Callable[[int, CameraSettings, datetime], OrderCheck]
    """What a match of a person means under the stay-at-home orders, at this camera."""
    save: Callable[[SightingRecord], SightingSaved | None]
    """Where a finished track's sighting goes (the store, or the bus)."""
    segments: SegmentSink
    """Where the recorder's footage segments go."""
    on_stage: Callable[[str, float], None]
    live: LiveCameras

    def pipeline(self, camera: CameraSettings, *, still_images: bool = False) -> CameraPipeline:
        """A camera's pipeline, asking the policy in force about every frame and track."""
        decide: Callable[[datetime], ModeDecision] = functools.partial(
            self.policy.decide, CameraPlace(camera.id, camera.mode, camera.geo)
        )
        tracker_settings = self.settings.tracker
        if still_images:  # a still image is one moment: a single detection is a whole track
            tracker_settings = tracker_settings.model_copy(update={"min_detections": 1})
        return CameraPipeline(
            camera_id=camera.id,
            policy=decide,
            detector=self.detector,
            gate=QualityGate(self.settings.quality),
            tracker=Tracker(tracker_settings, camera.id),
            embedder=self.embedder,
            index=self.gallery.index,
            save=self.save,
            embed_shots=self.settings.tracker.embed_shots,
            still_images=still_images,
            orders=lambda person, at: self.orders(person, camera, at),
            on_stage=self.on_stage,
        )

    def camera_worker(
        self, camera: CameraSettings, on_outcome: Callable[[TrackOutcome], None] = lambda _: None
    ) -> CameraWorker:
        """A camera's source, recorder, pipeline and threads; models and gallery loaded before
        it starts."""
        recorder = self.recorder(camera)
        source = open_source(camera.id, camera.url, camera.source, tap=recorder)
        still_images = isinstance(source, FolderSource)
        pipeline = self.pipeline(camera, still_images=still_images)
        self.gallery.index()
        live = isinstance(source, StreamSource) or camera.source.replay
        worker = CameraWorker(
            source, pipeline, live=live, on_outcome=on_outcome, recorder=None if still_images else recorder
        )
        self.live.add(worker)
        return worker

    def recorder(self, camera: CameraSettings) -> Recorder | None:
        """The camera's footage recorder (None when recording is disabled). It asks the policy
        itself, on the reader thread, whether the camera's mode is `off` at each packet's time:
        a pure decision on the policy's cached snapshot, with no audit of its own (the
        pipeline records mode changes)."""
        settings = self.settings.recording
        if not settings.enabled:
            return None
        place = CameraPlace(camera.id, camera.mode, camera.geo)

        def allowed(at: datetime) -> bool:
            return mode_for(place, self.policy.snapshot(), at).mode is not ProcessingMode.OFF

        return Recorder(camera.id, self.segments, segment_s=settings.segment_s, allowed=allowed)
