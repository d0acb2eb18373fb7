"""The processes of a city (each one `citywatch` subcommand, each run as many times as the
load needs), composed from the same parts as `run`:

- `worker`: takes cameras by lease and runs them, matching on the worker; sightings go out on
  the bus (the worker goes on through a database outage: the bus holds them), footage
  segments straight to the stores (the spool and object storage, their rows in the
  database), both under the camera lease's fencing token.
- `store`: the store consumer (`cluster.consumer`), the singletons under their leases (purge
  and order enforcement, alert delivery), and the relay of committed alerts to the bus.
- `serve`: the API and console; each replica's live feed is fed from the bus, so every
  replica delivers every alert.

See docs/scale/design.md for why each piece travels the way it does.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import replace

from citywatch.cluster import gallery_news
from citywatch.cluster.consumer import SightingConsumer
from citywatch.cluster.messages import (
    ALERTS,
    decode_alert,
    encode_alert,
    encode_sighting,
    origin_of,
    sighting_subject,
)
from citywatch.cluster.publisher import Publisher
from citywatch.config.ingest import CameraSettings
from citywatch.domain.bus import BusMessage, EventBus, Outgoing, Subscription
from citywatch.domain.errors import CitywatchError, Fenced, InvalidInput
from citywatch.domain.leases import CAMERA, camera_key, key_name
from citywatch.domain.records import SightingRecord, SightingSaved
from citywatch.pipeline.virtual import VirtualCameras, is_virtual
from citywatch.retention.segments import FencedSegments
from citywatch.runtime.build import Runtime
from citywatch.runtime.housekeeping import Scheduled
from citywatch.runtime.supervised import (
    CONSUMERS,
    LEASES,
    PRODUCERS,
    SERVICE,
    SYNC,
    add_footage_archive,
    add_services,
    new_supervisor,
)
from citywatch.runtime.supervisor import Supervisor

log = logging.getLogger(__name__)

CAMERA_CHILD = "camera:"
ASSIGN_S = 1.0
"""How often a worker looks for cameras nobody holds."""
ACK_WAIT_S = 30.0
"""How long a sighting handed to a store process waits for it before another gets it."""


class CityWorker:
    """Which cameras this worker runs: those whose lease it holds (up to `capacity`). Each
    camera's sightings are published under the token of the lease it was taken with; a lost
    lease stops the camera at once, and anything it still hands over is refused (`Fenced`).
    Virtual cameras (the simulated city's) are taken only by a worker given `virtual`, up to
    `virtual_capacity` of them beside the `capacity` real ones."""

    def __init__(
        self,
        rt: Runtime,
        bus: EventBus,
        supervisor: Supervisor,
        *,
        capacity: int,
        virtual: VirtualCameras | None = None,
        virtual_capacity: int = 0,
    ) -> None:
        if capacity < 1:
            raise InvalidInput(f"a worker's capacity is at least one camera, got {capacity}")
        self._rt = rt
        self._bus = bus
        self._supervisor = supervisor
        self._virtual = virtual
        self._limits = {False: capacity, True: virtual_capacity if virtual is not None else 0}
        """The most cameras of each kind (virtual or not) this worker runs."""
        self.publisher = Publisher(bus)
        """Sends the cameras' sightings in batches (started by `supervise_worker`)."""
        self._keeper = rt.lease_keeper
        self._keeper.add_on_lost(self._lost)
        self._running: dict[str, int] = {}
        """Camera id → the lease token its worker publishes under."""
        self._lock = threading.Lock()

    def running(self) -> dict[str, int]:
        with self._lock:
            return dict(self._running)

    def assign(self) -> None:
        """Stop the cameras the city no longer has; take free ones up to the capacity (of each
        kind: real cameras and, given a probe set, virtual ones)."""
        wanted = {c.id: c for c in self._rt.cameras() if self._limits[is_virtual(c.url)]}
        for camera_id in set(self.running()) - set(wanted):
            self._stop(camera_id)
            self._keeper.release(camera_key(camera_id))
        running = self.running()
        free = {
            kind: limit - sum(1 for c in running if is_virtual(wanted[c].url) is kind)
            for kind, limit in self._limits.items()
        }
        if all(n <= 0 for n in free.values()):
            return
        taken = set(self._keeper.store.holders(f"{CAMERA}."))  # one read, not a try per camera
        for kind, room in free.items():
            if room <= 0:
                continue
            candidates = [
                camera_key(c)
                for c, camera in wanted.items()
                if is_virtual(camera.url) is kind and c not in running and camera_key(c) not in taken
            ]
            random.shuffle(candidates)  # workers starting together spread the cameras between them
            for lease in self._keeper.take(candidates, limit=room):
                self._start(wanted[key_name(lease.key)], lease.token)

    def _start(self, camera: CameraSettings, token: int) -> None:
        """Raise the camera's fence to the new token first (so that its last holder's writes
        are refused from now on, even before this worker writes any), then run it."""
        try:
            fenced_in = self._rt.sightings.raise_fence(camera.id, token)
        except CitywatchError as exc:
            log.warning("camera %s: not started, its fence cannot be raised (%s)", camera.id, exc)
            fenced_in = False
        if not fenced_in:
            self._keeper.release(camera_key(camera.id))
            return
        machinery = replace(
            self._rt.machinery,
            save=self._publisher(camera.id, token),
            segments=FencedSegments(self._rt.footage, token),
        )
        with self._lock:
            self._running[camera.id] = token
        log.info("camera %s: taken (lease token %d)", camera.id, token)
        virtual = self._virtual
        if virtual is not None and is_virtual(camera.url):
            self._supervisor.add(
                CAMERA_CHILD + camera.id, lambda: virtual.camera(machinery.pipeline(camera)), tier=PRODUCERS
            )
        else:
            self._supervisor.add(
                CAMERA_CHILD + camera.id, lambda: machinery.camera_worker(camera), tier=PRODUCERS
            )

    def _publisher(self, camera_id: str, token: int) -> Callable[[SightingRecord], SightingSaved | None]:
        key = camera_key(camera_id)

        def held() -> bool:
            lease = self._keeper.lease(key)
            return lease is not None and lease.token == token

        def publish(record: SightingRecord) -> SightingSaved | None:
            if not held():
                raise Fenced(f"camera {camera_id}: this worker lost its lease; nothing more goes out")
            origin = origin_of(record, token)
            message = Outgoing(sighting_subject(camera_id), encode_sighting(record, origin), origin.key)
            self.publisher.put(message, valid=held)
            return None

        return publish

    def _lost(self, key: str) -> None:
        if key.startswith(f"{CAMERA}."):
            self._stop(key_name(key))

    def _stop(self, camera_id: str) -> None:
        with self._lock:
            if self._running.pop(camera_id, None) is None:
                return
        log.warning("camera %s: stopped here (its lease is gone or it was removed)", camera_id)
        threading.Thread(  # from the keeper's thread: never wait for a camera there
            target=self._supervisor.remove, args=(CAMERA_CHILD + camera_id,), daemon=True
        ).start()


def supervise_worker(
    rt: Runtime,
    bus: EventBus,
    *,
    capacity: int,
    virtual: VirtualCameras | None = None,
    virtual_capacity: int = 0,
) -> tuple[Supervisor, CityWorker]:
    """A worker process's supervisor: its leases, the camera assignment and the cameras it
    takes (virtual ones too, given `virtual`), and the footage archive where there is object
    storage."""
    supervisor = new_supervisor(rt)
    worker = CityWorker(
        rt, bus, supervisor, capacity=capacity, virtual=virtual, virtual_capacity=virtual_capacity
    )
    supervisor.add(SERVICE + "leases", lambda: rt.lease_keeper, tier=LEASES)
    supervisor.add(SERVICE + "publisher", lambda: worker.publisher, tier=CONSUMERS)  # after the cameras
    # the assignment stops first, so that it takes no camera while the cameras stop
    supervisor.add(
        SERVICE + "cameras", lambda: Scheduled("camera assignment", worker.assign, ASSIGN_S), tier=SYNC
    )
    add_footage_archive(rt, supervisor)
    gallery_news.listen(bus, rt.gallery.invalidate)  # an enrolment reaches the cameras at once
    rt.supervisor = supervisor
    return supervisor, worker


def supervise_store(
    rt: Runtime, bus: EventBus, *, ack_wait_s: float = ACK_WAIT_S
) -> tuple[Supervisor, SightingConsumer]:
    """A store process's supervisor: the consumer of sightings, the services of `run` under
    their leases, and the relay of the alerts it commits to every API replica."""
    supervisor = new_supervisor(rt)
    consumer = SightingConsumer(bus, rt.sightings, ack_wait_s=ack_wait_s)
    supervisor.add(SERVICE + "store", lambda: consumer, tier=PRODUCERS)
    add_services(rt, supervisor)
    relay_alerts(rt, bus)
    rt.supervisor = supervisor
    return supervisor, consumer


def relay_alerts(rt: Runtime, bus: EventBus) -> threading.Thread:
    """Publish each alert this process commits (its live feed) on the bus, for the API
    replicas. A relay that cannot publish logs it; a replica's console replays from the
    store on reconnection, so nothing is lost there, only late."""
    subscription = rt.feed.subscribe(name="bus relay")

    def relay() -> None:
        while subscription.closed is None:
            message = subscription.get(timeout_s=1.0)
            if message is None:
                continue
            try:
                bus.publish(ALERTS, encode_alert(message), msg_id=f"alert-{message.id}")
            except Exception:
                log.exception("alert %d not relayed to the API replicas", message.id)

    thread = threading.Thread(target=relay, name="alert-relay", daemon=True)
    thread.start()
    return thread


def feed_from_bus(rt: Runtime, bus: EventBus) -> Subscription:
    """An API replica's live feed, fed with every alert any store process commits."""

    def deliver(message: BusMessage) -> None:
        try:
            rt.feed.publish(decode_alert(message.payload))
        except InvalidInput:
            log.exception("alert message %s dropped", message.msg_id)
        message.ack()

    return bus.listen([ALERTS], deliver)
