"""Keeps `run`'s camera workers in step with the cameras of the city (`Runtime.cameras`: the
configuration file's and the records'), so that a camera added, changed or removed through
the API or the command line is picked up without a restart.

Every few seconds (`CAMERA_SYNC_S`) it asks whether a record changed (`CameraService.revision`:
each record's row and version, one cheap read); only when one did does it read the cameras and
start those added, restart those changed (stopped, then built afresh from their new settings)
and stop those removed, each start and stop audited as `run`'s own are (`camera.start`,
`camera.stop`, without the source's credentials). A camera the acting user may not run
(`cameras.run` within their scope) is left alone. A bus subject announcing a change can call
`poll` as well, so that a change need not wait for the tick."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from citywatch.cameras.records import shown_url
from citywatch.config.ingest import CameraSettings
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, AuditEvent
from citywatch.domain.lifecycle import Child
from citywatch.pipeline.camera import TrackOutcome
from citywatch.pipeline.worker import CameraWorker
from citywatch.runtime.build import Runtime
from citywatch.runtime.supervisor import Supervisor

log = logging.getLogger(__name__)

CAMERA = "camera:"
"""A camera worker's name in the supervisor: `camera:<id>`."""
CAMERA_SYNC_S = 2.0
"""How often a running city asks whether a camera record changed."""
STOP_S = 30.0
"""How long a camera taken out (or changed) may take to store its open tracks and stop."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one round changed, by camera id."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


class CameraSync:
    """The cameras of the city, as `supervisor`'s `camera:<id>` children (in `tier`)."""

    def __init__(
        self,
        rt: Runtime,
        supervisor: Supervisor,
        *,
        tier: int,
        on_outcome: Callable[[TrackOutcome], None] = lambda _: None,
    ) -> None:
        self._rt = rt
        self._supervisor = supervisor
        self._tier = tier
        self._on_outcome = on_outcome
        self._seen: tuple[tuple[int, int], ...] | None = None

    def add_all(self) -> list[str]:
        """Before the supervisor starts: every camera of the city, built (a camera that cannot
        be opened is failed at once, with why) but not started; their ids."""
        self._seen = self._rt.camera_records.revision()
        cameras = self._wanted()
        for camera in cameras:
            self._add(camera)
        return [c.id for c in cameras]

    def poll(self) -> SyncResult:
        """One round: nothing unless a camera record changed since the last (cheap)."""
        revision = self._rt.camera_records.revision()  # before the cameras: a later change is seen next round
        if revision == self._seen:
            return SyncResult()
        result = self.reconcile()
        self._seen = revision
        return result

    def reconcile(self) -> SyncResult:
        """Start, restart and stop camera workers until they are the cameras of the city."""
        wanted = {c.id: c for c in self._wanted()}
        running = {
            s.camera_id: self._supervisor.spec(s.name)
            for s in self._supervisor.status()
            if s.camera_id is not None
        }
        removed = [c for c in running if c not in wanted]
        changed = [c for c, spec in running.items() if c in wanted and spec != wanted[c]]
        added = [c for c in wanted if c not in running]
        for camera_id in removed + changed:
            self._stop(camera_id)
        for camera_id in changed + added:
            self._start(wanted[camera_id])
        if removed or changed or added:
            log.info("cameras: %d added, %d changed, %d removed", len(added), len(changed), len(removed))
        return SyncResult(tuple(added), tuple(changed), tuple(removed))

    def _wanted(self) -> list[CameraSettings]:
        return [c for c in self._rt.cameras() if can(self._rt.actor, Permission.CAMERAS_RUN, c.id)]

    def _add(self, camera: CameraSettings) -> Child | None:
        name = CAMERA + camera.id
        build = functools.partial(self._rt.camera_worker, camera, self._on_outcome)
        child = self._supervisor.add(name, build, tier=self._tier, spec=camera)
        if child is None:
            error = next((s.error for s in self._supervisor.status() if s.name == name), None)
            self._rt.live.fail(camera.id, error or "could not be opened")
        return child

    def _start(self, camera: CameraSettings) -> None:
        if isinstance(self._add(camera), CameraWorker):
            self._rt.audit(camera_event(Action.CAMERA_START, camera))

    def _stop(self, camera_id: str) -> None:
        name = CAMERA + camera_id
        camera, worker = self._supervisor.spec(name), self._supervisor.child(name)
        if not self._supervisor.remove(name, STOP_S):
            log.error("camera %s did not stop within %.0f s", camera_id, STOP_S)
        self._rt.live.remove(camera_id)
        if isinstance(camera, CameraSettings) and isinstance(worker, CameraWorker):
            self._rt.audit(camera_event(Action.CAMERA_STOP, camera, worker))


def camera_of(supervisor: Supervisor, worker: CameraWorker) -> CameraSettings | None:
    """The settings `worker`'s camera was started with."""
    spec = supervisor.spec(CAMERA + worker.source.camera_id)
    return spec if isinstance(spec, CameraSettings) else None


def camera_event(action: Action, camera: CameraSettings, worker: CameraWorker | None = None) -> AuditEvent:
    """A live deployment starting or stopping, for the audit log (no credentials in the URL)."""
    params: dict[str, object] = {"source": shown_url(camera.url), "requested_mode": str(camera.mode)}
    result = None
    if worker is not None:
        stats = worker.pipeline.stats
        params |= {"frames": stats.frames, "tracks": stats.tracks, "alerts": stats.alerts}
        result = stats.sightings
    return AuditEvent(action, f"camera:{camera.id}", params=params, result_count=result)
