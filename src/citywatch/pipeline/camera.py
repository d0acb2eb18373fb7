"""One camera's pipeline: policy → detect → quality gate → track → policy → embed best shots
→ match → sighting.

Driven frame by frame from one thread; the store is the only thing it writes to. Policy is
asked before detection (what may be done with this frame) and again when a track ends,
before anything biometric is computed or written (the authorisation may have ended since).

A matched sighting keeps its template in every mode (only faces that match no one lose it
in watchlist mode): it is what an operator's "not this person" remembers as a non-match.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from citywatch.domain.errors import CitywatchError, Fenced, PermissionDenied, Unavailable
from citywatch.domain.faces import FaceDetections
from citywatch.domain.frames import Frame, Image
from citywatch.domain.matching import MatchDecision, MatchResult, Template
from citywatch.domain.orders import NOT_UNDER_ORDER, OrderCheck, OrderVerdict
from citywatch.domain.policy import ModeDecision, ProcessingMode
from citywatch.domain.ports import Detector, Embedder
from citywatch.domain.records import SightingRecord, SightingSaved
from citywatch.domain.tracks import Track
from citywatch.match.index import WatchlistIndex, aggregate
from citywatch.media.images import blur_boxes, encode_jpeg
from citywatch.track.tracker import Tracker
from citywatch.vision.quality import QualityGate

log = logging.getLogger(__name__)

MAX_UNSAVED = 500
"""Sightings held in memory while the store refuses writes; beyond this the oldest are lost."""


@dataclass(frozen=True, slots=True)
class TrackOutcome:
    """What became of one finished track; `saved` is None when nothing was stored."""

    track: Track
    match: MatchResult
    saved: SightingSaved | None


@dataclass(frozen=True, slots=True)
class FrameView:
    """The latest frame a pipeline looked at, as it may be shown: every face pixelated unless
    the mode in force for that very frame identifies and the camera's mode still identifies
    when it is shown. Kept in memory only, one per camera, dropped when the pipeline ends."""

    image: Image
    boxes: np.ndarray
    """The faces found, (N, 4) x0, y0, x1, y1 in pixels."""
    captured_at: datetime
    mode: ProcessingMode
    """The mode in force for this frame when it was looked at."""
    blurred: bool
    """Its faces are pixelated: the frame's mode, or the camera's mode now, does not identify."""
    seen_s: float
    """`time.monotonic()` when the pipeline looked at it: how old it is, whatever its clock."""


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
    in_cooldown: int = 0
    """Matches stored without an alert: within the cooldown of the person's last alert here."""
    non_matches: int = 0
    """Tracks that matched a person but were nearer a face dismissed as not that person."""
    discarded: int = 0
    """Finished tracks that matched nothing in watchlist mode: dropped, nothing biometric kept."""
    withheld: int = 0
    """Finished tracks dropped unembedded because policy no longer allowed identification."""
    idle_frames: int = 0
    """Frames not looked at because the mode was off or record."""
    lost: int = 0
    """Sightings that could not be stored even after retrying (reported, never silent)."""
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    """Time spent per stage (detect, quality, track, embed, match, store)."""
    on_stage: Callable[[str, float], None] | None = None
    """Told each stage call's seconds as well (the runtime's metrics: latency histograms)."""

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - start
            self.seconds[stage] += took
            if self.on_stage is not None:
                self.on_stage(stage, took)


class CameraPipeline:
    def __init__(
        self,
        *,
        camera_id: str,
        policy: Callable[[datetime], ModeDecision],
        detector: Detector,
        gate: QualityGate,
        tracker: Tracker,
        embedder: Embedder,
        index: Callable[[frozenset[str]], WatchlistIndex],
        save: Callable[[SightingRecord], SightingSaved | None],
        embed_shots: int,
        still_images: bool = False,
        orders: Callable[[int, datetime], OrderCheck] = lambda _p, _at: NOT_UNDER_ORDER,
        on_stage: Callable[[str, float], None] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._policy = policy
        self.decision: ModeDecision | None = None
        """The latest decision, for status views."""
        self._last_view: tuple[Frame, np.ndarray, ProcessingMode, float] | None = None
        self._clock = datetime.min.replace(tzinfo=UTC)
        """Time of the latest frame: when policy is asked again as a track ends."""
        self._detector = detector
        self._gate = gate
        self._tracker = tracker
        self._embedder = embedder
        self._index = index
        self._save = save
        self._orders = orders
        """What a match of a person means under the stay-at-home orders, at this camera."""
        self._embed_shots = embed_shots
        self._still = still_images
        self.stats = PipelineStats(rejected=gate.rejected, on_stage=on_stage)
        self._unsaved: list[SightingRecord] = []
        self._warned_no_location = False
        self._last_error: CitywatchError | None = None

    @property
    def active_tracks(self) -> int:
        return self._tracker.active

    def process(self, frame: Frame) -> list[TrackOutcome]:
        self._clock = frame.captured_at
        self.decision = decision = self._policy(frame.captured_at)
        if not decision.mode.detects:
            self.stats.frames += 1
            self.stats.idle_frames += 1
            self._last_view = None
            # tracks still open end here, and are re-checked (and so dropped) before any write
            return self._finish_all(self._tracker.flush()) if self._tracker.active else []
        with self.stats.timed("detect"):
            faces = self._detector.detect(frame.image)
        with self.stats.timed("quality"):
            kept = self._gate.assess(frame.image, faces)
        self.stats.frames += 1
        self.stats.faces_detected += len(faces)
        self.stats.faces_kept += len(kept)
        # the mode goes with the frame: a view is never judged by a later frame's mode
        self._last_view = (frame, faces.xyxy, decision.mode, time.monotonic())
        if not decision.mode.identifies:  # detect: count (and blur on view), nothing more
            return self._finish_all(self._tracker.flush()) if self._tracker.active else []
        with self.stats.timed("track"):
            finished = self._tracker.update(frame, kept)
            if self._still:  # each image of a folder is its own scene
                finished += self._tracker.flush()
        return self._finish_all(finished)

    def flush(self) -> list[TrackOutcome]:
        """End all open tracks (end of source or shutdown) and store them.

        Raises the storage error if sightings are still unsaved after a last retry.
        """
        self.forget_view()  # the camera stops: its last frame is not kept to be shown later
        outcomes = self._finish_all(self._tracker.flush())
        self._retry_unsaved()
        if self._unsaved:
            self.stats.lost += len(self._unsaved)
            lost, self._unsaved = len(self._unsaved), []
            raise self._last_error or Unavailable(f"{lost} sighting(s) could not be stored")
        return outcomes

    def _finish_all(self, tracks: list[Track]) -> list[TrackOutcome]:
        """Each track on its own: a storage error on one does not lose the others."""
        self._retry_unsaved()
        return [self._finish(t) for t in tracks]

    def view(self, *, identifies_now: bool) -> FrameView | None:
        """The latest frame looked at with its faces, shown unblurred only if its own mode
        identified and `identifies_now` (the camera's mode when it is shown: an authorisation
        may have lapsed since); None when the mode is off or record, before the first frame,
        or once the pipeline has ended."""
        last = self._last_view  # one read: the pipeline thread replaces it whole
        if last is None:
            return None
        frame, boxes, mode, seen_s = last
        blurred = not (mode.identifies and identifies_now)
        image = blur_boxes(frame.image, boxes) if blurred else frame.image.copy()
        return FrameView(image, boxes.copy(), frame.captured_at, mode, blurred, seen_s)

    def forget_view(self) -> None:
        """Drop the latest frame (the camera stopped): nothing of it stays in memory."""
        self._last_view = None

    def finish_embedded(self, track: Track, template: Template) -> TrackOutcome:
        """End a track whose template was made elsewhere, as a track of this camera ends:
        the virtual cameras of the simulated city (`pipeline.virtual`) skip decoding,
        detection and embedding, and nothing else."""
        self._clock = max(self._clock, track.ended_at)
        return self._finish(track, template)

    def _finish(self, track: Track, template: Template | None = None) -> TrackOutcome:
        self.stats.tracks += 1
        decision = self._policy(max(track.ended_at, self._clock))
        if not decision.mode.identifies:
            # identification stopped while the track ran: nothing of it is embedded or kept
            self.stats.withheld += 1
            return TrackOutcome(track, _withheld(), None)
        if template is None:
            with self.stats.timed("embed"):
                template = self._embed(track)
        with self.stats.timed("match"):
            match = self._index(decision.watchlists).match(template)
        self.stats.non_matches += match.decision is MatchDecision.UNKNOWN_NON_MATCH
        if match.is_match:
            self.stats.matches += 1
        if decision.mode is ProcessingMode.WATCHLIST and not match.is_match:
            # Nothing of a face that matches no one is kept or shown, not even who it was nearest to.
            self.stats.discarded += 1
            return TrackOutcome(track, _redacted(match), None)
        order = None
        if match.is_match and match.best is not None:
            check = self._orders(match.best.person_id, track.ended_at)
            if check.keeps_nothing:
                # under an order, the only question is "outside the area?": here, no
                self.stats.discarded += 1
                self._note_order_check(check)
                return TrackOutcome(track, _redacted(match), None)
            order = None if check.order is None else check.order.id
        record = self._record(track, template, match, _authorisation_for(decision, match), order)
        with self.stats.timed("store"):
            return TrackOutcome(track, match, self._store(record))

    def _note_order_check(self, check: OrderCheck) -> None:
        if check.verdict is OrderVerdict.NO_LOCATION and not self._warned_no_location:
            log.warning("camera %s: %s", self.camera_id, check.reason)
            self._warned_no_location = True

    def _record(
        self,
        track: Track,
        template: Template,
        match: MatchResult,
        authorisation_id: int | None,
        order_id: int | None = None,
    ) -> SightingRecord:
        return SightingRecord(
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
            authorisation_id=authorisation_id,
            order_id=order_id,
        )

    def _store(self, record: SightingRecord) -> SightingSaved | None:
        try:
            saved = self._save(record)
        except (PermissionDenied, Fenced) as exc:  # its authorisation ended, its camera's lease was lost
            log.warning("camera %s: %s", self.camera_id, exc)
            self.stats.withheld += 1
            return None
        except CitywatchError as exc:  # disk full, database locked: keep it and try again later
            log.error("camera %s: sighting not stored yet (%s); will retry", self.camera_id, exc)
            self._last_error = exc
            if len(self._unsaved) >= MAX_UNSAVED:
                self.stats.lost += 1
                self._unsaved.pop(0)
            self._unsaved.append(record)
            return None
        self.stats.sightings += 1
        if saved is not None:  # None: handed on (to the bus), stored elsewhere
            self.stats.alerts += saved.alert_id is not None
            self.stats.in_cooldown += saved.cooldown_of is not None
        return saved

    def _retry_unsaved(self) -> None:
        pending, self._unsaved = self._unsaved, []
        for i, record in enumerate(pending):
            if self._store(record) is None:  # still failing: keep the rest in order
                self._unsaved.extend(pending[i + 1 :])
                return

    def _embed(self, track: Track) -> np.ndarray:
        vectors = []
        for shot in track.shots[: self._embed_shots]:
            face = FaceDetections.from_arrays(shot.box[None], [shot.score], shot.landmarks[None])
            vectors.append(self._embedder.embed(shot.crop, face)[0])
        self.stats.embeddings += len(vectors)
        return aggregate(np.stack(vectors))


def _authorisation_for(decision: ModeDecision, match: MatchResult) -> int | None:
    """The authorisation a sighting is derived under: the one binding the matched watchlist,
    else (investigate) the first in force."""
    if match.is_match and match.best is not None:
        for auth in decision.authorisations:
            if match.best.watchlist_name in auth.watchlists:
                return auth.id
    return decision.authorisations[0].id if decision.authorisations else None


def _withheld() -> MatchResult:
    return MatchResult(MatchDecision.UNKNOWN, None, None, 0.0, 0.0)


def _redacted(match: MatchResult) -> MatchResult:
    return MatchResult(MatchDecision.UNKNOWN, None, None, match.threshold, match.margin_required)
