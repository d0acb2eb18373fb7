"""What `citywatch run` hands to the supervisor (every camera of the city, kept in step with
the camera records by the camera sync, the retention purge, order enforcement, alert
delivery, the lease keeper: the purge, the orders and delivery run as singletons, in one
process of a city at a time) and what the supervisor's news does: each restart and each
child given up on is recorded in the audit log as the system; a camera that cannot even be
opened is shown failed in the live registry (the console, readiness, metrics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from threadpoolctl import threadpool_limits

from citywatch.domain.audit import SYSTEM, Action, AuditEvent
from citywatch.domain.lifecycle import Child
from citywatch.leases.singleton import Singleton, Singletons
from citywatch.pipeline.camera import TrackOutcome
from citywatch.runtime.build import Runtime
from citywatch.runtime.camera_sync import CAMERA_SYNC_S, CameraSync
from citywatch.runtime.housekeeping import Scheduled
from citywatch.runtime.supervisor import RestartPolicy, Supervisor
from citywatch.store.lock import DataFolderLock

SERVICE = "service:"
SYNC = -1
"""The camera sync's stop tier: it stops first, so that it starts no camera while they stop."""
PRODUCERS, CONSUMERS, LEASES = 0, 1, 2
"""Stop tiers: the cameras stop (storing their open tracks) before delivery's last round, and
the lease keeper gives the leases back last (the singletons' last rounds run under them)."""
RETENTION, DELIVERY = "retention", "delivery"
"""The singleton jobs, each run by one process of a city at a time (citywatch.leases.singleton):
the purge and order enforcement share one lease (the purge ends orders too, first), the
delivery outbox's relay has its own."""
ORDER_ENFORCE_S = 10.0
"""How often `run` ends the orders whose window has passed (their templates go at once;
matching them stopped already, the gallery filtering by time)."""
FOOTAGE_ARCHIVE_S = 5.0
"""How often `run` moves placed footage segments from the spool to object storage."""


@dataclass(frozen=True, slots=True)
class AuditedEvents:
    """The supervisor's news, recorded as the system (restarts are the system acting)."""

    audit: Callable[[AuditEvent], None]

    def restarted(self, name: str, restarts: int, reason: str) -> None:
        self.audit(AuditEvent(Action.WORKER_RESTART, name, params={"restarts": restarts, "reason": reason}))

    def failed(self, name: str, restarts: int, reason: str) -> None:
        self.audit(AuditEvent(Action.WORKER_FAILED, name, params={"restarts": restarts, "reason": reason}))


def restart_policy(rt: Runtime) -> RestartPolicy:
    r = rt.settings.restarts
    return RestartPolicy(r.budget, r.window_s, r.backoff_initial_s, r.backoff_max_s)


def supervise(
    rt: Runtime,
    on_outcome: Callable[[TrackOutcome], None] = lambda _: None,
    *,
    camera_sync_s: float = CAMERA_SYNC_S,
) -> Supervisor:
    """A supervisor holding everything `run` runs, built (a camera that cannot be opened is
    failed at once, with why) but not started; `rt.supervisor` from then on. The camera sync
    (`runtime.camera_sync`) keeps its cameras those of the city while it runs."""
    supervisor = new_supervisor(rt)
    sync = CameraSync(rt, supervisor, tier=PRODUCERS, on_outcome=on_outcome)
    sync.add_all()
    supervisor.add(
        SERVICE + "camera-sync", lambda: Scheduled("camera sync", sync.poll, camera_sync_s), tier=SYNC
    )
    add_services(rt, supervisor)
    rt.supervisor = supervisor
    return supervisor


def new_supervisor(rt: Runtime) -> Supervisor:
    """An empty supervisor under the configured restart policy, its news audited as the system.

    Its process does its linear algebra on one thread each (BLAS's own threads off): the
    cameras' threads each multiply a probe by the gallery, a product too small to share out,
    and BLAS threads spinning beside the cameras' and the other processes' on the same cores
    made matching ten times slower under load (docs/scale/scale.md)."""
    threadpool_limits(limits=1, user_api="blas")
    return Supervisor(restart_policy(rt), AuditedEvents(lambda event: rt.audit(event, actor=SYSTEM)))


def add_footage_archive(rt: Runtime, supervisor: Supervisor) -> None:
    """Where there is object storage: the service that moves placed footage out of the spool."""
    if rt.settings.storage:
        supervisor.add(
            SERVICE + "footage-archive",
            lambda: Scheduled("footage archive", rt.footage.archive_spooled, FOOTAGE_ARCHIVE_S),
            tier=CONSUMERS,
        )


def add_services(rt: Runtime, supervisor: Supervisor) -> None:
    """What runs beside the cameras in `run`, and in a city's store process: this process's
    leases, the singletons under them (purge and order enforcement, alert delivery), and
    the footage archive where there is object storage."""
    keeper = rt.lease_keeper
    singletons = Singletons(keeper)
    rt.metrics.singletons(singletons.status)
    supervisor.add(SERVICE + "leases", lambda: keeper, tier=LEASES)
    retention = singletons.get(RETENTION)
    every_s = rt.settings.retention.purge_every_min * 60
    supervisor.add(
        SERVICE + "purge",
        lambda: Scheduled("retention purge", retention.guard(rt.purge), every_s),
        tier=CONSUMERS,
    )
    supervisor.add(
        SERVICE + "orders",
        lambda: Scheduled(
            "stay-at-home order enforcement", retention.guard(rt.orders.enforce), ORDER_ENFORCE_S
        ),
        tier=CONSUMERS,
    )
    if rt.settings.delivery.sinks:
        supervisor.add(SERVICE + "delivery", _dispatcher(rt, singletons.get(DELIVERY)), tier=CONSUMERS)
    add_footage_archive(rt, supervisor)


def data_folder_lock(rt: Runtime, command: str) -> DataFolderLock:
    """The lock `run` and `watch` hold on the data folder while they record into it: one
    process at a time (a second is refused, naming who holds it)."""
    return DataFolderLock(rt.settings.data_dir, command)


def _dispatcher(rt: Runtime, singleton: Singleton) -> Callable[[], Child]:
    def build() -> Child:
        dispatcher = rt.dispatcher(turn=singleton.claim)
        assert dispatcher is not None  # sinks are configured
        return dispatcher

    return build
