"""Virtual cameras, for the simulated city (`citywatch sim`): cameras of the city like any
other (records, held by lease, fenced), whose tracks skip decoding, detection and embedding.
Each hands the template of a real face, drawn from a probe set made beforehand from the
shared photos (`ProbeSet`), to its camera's real pipeline as the track ends
(`CameraPipeline.finish_embedded`): the policy in force, matching against the replicated
gallery, the watchlist-mode rule (a face that matches no one leaves nothing), the order
checks, and the sighting out through the same `save` as a real camera's (the bus).

One thread per worker drives every virtual camera it holds: faces arrive as a Poisson process
at `faces_per_s` per camera. When matching cannot keep up the thread runs flat out and counts
how far behind it is, so the same machinery measures a worker's sustained rate.

A virtual camera's URL is `virtual:<anything>`: only a worker given a probe set
(`citywatch worker --probes FILE`) takes one; a real source never opens it."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from citywatch.domain.errors import CitywatchError, InvalidInput
from citywatch.domain.faces import FloatArray
from citywatch.domain.lifecycle import Death
from citywatch.domain.tracks import FaceShot, Track
from citywatch.pipeline.camera import CameraPipeline

log = logging.getLogger(__name__)

SCHEME = "virtual:"
TRACK_S = 2.0
"""How long a virtual track lasts (its start is this long before its end)."""


def is_virtual(url: str) -> bool:
    return url.startswith(SCHEME)


@dataclass(frozen=True)
class ProbeSet:
    """Templates of real faces with a crop of each: `enrolled[i]` says whether face i's person
    is on a watchlist of the simulated city (a face that should match) or a stranger."""

    model: str
    templates: FloatArray
    crops: npt.NDArray[np.uint8]
    enrolled: npt.NDArray[np.bool_]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.templates)
        if not (len(self.crops) == len(self.enrolled) == len(self.names) == n) or n == 0:
            raise InvalidInput("a probe set needs one crop, flag and name per template, and one at least")
        if not self.enrolled.any() or self.enrolled.all():
            raise InvalidInput("a probe set needs faces of enrolled people and of strangers")

    def save(self, path: Path) -> None:
        with path.open("wb") as f:
            np.savez(
                f,
                model=np.array(self.model),
                templates=self.templates,
                crops=self.crops,
                enrolled=self.enrolled,
                names=np.array(self.names),
            )

    @classmethod
    def load(cls, path: Path) -> ProbeSet:
        try:
            with np.load(path, allow_pickle=False) as f:
                return cls(
                    str(f["model"]),
                    np.asarray(f["templates"], np.float32),
                    np.asarray(f["crops"], np.uint8),
                    np.asarray(f["enrolled"], np.bool_),
                    tuple(str(n) for n in f["names"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise InvalidInput(f"{path}: not a probe set ({exc})") from None


@dataclass
class VirtualStats:
    """What the virtual cameras of one worker did, for the simulated city's report."""

    probes: int = 0
    enrolled: int = 0
    """Probes of enrolled people."""
    matched: int = 0
    false_matches: int = 0
    """Strangers' faces matched to an enrolled person (the model's false positives)."""
    handed_on: int = 0
    """Sightings handed to `save` (the bus)."""
    errors: int = 0
    busy_s: float = 0.0
    """Seconds spent finishing tracks (policy, matching, the hand-over)."""
    behind_s: float = 0.0
    """How far behind its schedule the driver is now (0: keeping up)."""


class VirtualCameras:
    """Every virtual camera of one worker, driven from one thread."""

    def __init__(
        self, probes: ProbeSet, *, faces_per_s: float, enrolled_share: float, seed: int | None = None
    ) -> None:
        if faces_per_s <= 0 or not 0 < enrolled_share < 1:
            raise InvalidInput("faces per second must be positive and the enrolled share within (0, 1)")
        self._probes = probes
        self._rate = faces_per_s
        self._enrolled = np.flatnonzero(probes.enrolled)
        self._strangers = np.flatnonzero(~probes.enrolled)
        self._share = enrolled_share
        self._random = random.Random(seed)
        self._cameras: dict[str, CameraPipeline] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._track_ids = iter(range(1, 1 << 62))
        self.stats = VirtualStats()
        self._thread = threading.Thread(target=self._drive, name="virtual-cameras", daemon=True)
        self._thread.start()

    def camera(self, pipeline: CameraPipeline) -> VirtualCamera:
        """The supervised child of one virtual camera (its faces come once it is started)."""
        return VirtualCamera(self, pipeline)

    def held(self) -> int:
        with self._lock:
            return len(self._cameras)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _add(self, pipeline: CameraPipeline) -> None:
        with self._lock:
            self._cameras[pipeline.camera_id] = pipeline

    def _remove(self, pipeline: CameraPipeline) -> None:
        with self._lock:
            if self._cameras.get(pipeline.camera_id) is pipeline:
                del self._cameras[pipeline.camera_id]

    def _drive(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                cameras = list(self._cameras.values())
            if not cameras:
                self._stop.wait(0.1)
                due = time.monotonic()
                continue
            due += self._random.expovariate(self._rate * len(cameras))
            wait = due - time.monotonic()
            self.stats.behind_s = max(0.0, -wait)
            if wait > 0:
                self._stop.wait(wait)
            self._face(self._random.choice(cameras))

    def _face(self, pipeline: CameraPipeline) -> None:
        enrolled = self._random.random() < self._share
        i = int(self._random.choice(self._enrolled if enrolled else self._strangers))
        track = self._track(pipeline.camera_id, i)
        sent = pipeline.stats.sightings
        started = time.perf_counter()
        try:
            outcome = pipeline.finish_embedded(track, self._probes.templates[i])
        except CitywatchError as exc:
            self.stats.errors += 1
            log.warning("virtual camera %s: %s", pipeline.camera_id, exc)
            return
        finally:
            self.stats.busy_s += time.perf_counter() - started
            self.stats.probes += 1
            self.stats.enrolled += enrolled
        self.stats.matched += outcome.match.is_match
        self.stats.false_matches += outcome.match.is_match and not enrolled
        self.stats.handed_on += pipeline.stats.sightings - sent

    def _track(self, camera_id: str, i: int) -> Track:
        ended = datetime.now(UTC)
        crop = self._probes.crops[i]
        h, w = crop.shape[:2]
        box = np.array([w * 0.2, h * 0.2, w * 0.8, h * 0.8], np.float32)
        shot = FaceShot(0, 0.0, ended, crop, (0, 0), box, np.zeros((5, 2), np.float32), 0.9, 0.9)
        return Track(
            next(self._track_ids),
            camera_id,
            ended - timedelta(seconds=TRACK_S),
            ended,
            0.0,
            TRACK_S,
            box,
            detections=int(TRACK_S * 5),
            shots=[shot],
        )


class VirtualCamera:
    """A supervised child: one virtual camera, running while its worker holds its lease."""

    def __init__(self, cameras: VirtualCameras, pipeline: CameraPipeline) -> None:
        self._cameras = cameras
        self.pipeline = pipeline
        self._started = False
        self._stopped = False

    def start(self) -> None:
        self._started = True
        self._cameras._add(self.pipeline)

    def stop(self) -> None:
        self._stopped = True
        self._cameras._remove(self.pipeline)

    def join(self, timeout_s: float | None = None) -> bool:
        return True

    @property
    def done(self) -> bool:
        return self._started and self._stopped

    @property
    def death(self) -> Death | None:
        return None
