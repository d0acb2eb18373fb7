"""`build_runtime(settings)`: the one place that knows every component."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from sqlalchemy.orm import Session

from citywatch.alerts.delivery.dispatcher import Dispatcher
from citywatch.alerts.delivery.factory import build_dispatcher, sink_named
from citywatch.alerts.delivery.feed import AlertFeed
from citywatch.alerts.delivery.outbox import Backoff, Outbox
from citywatch.alerts.delivery.sink import Sink
from citywatch.alerts.raising import AlertRaising
from citywatch.alerts.review import AlertReviews
from citywatch.alerts.store import AlertStore
from citywatch.audit.keys import load_or_create
from citywatch.audit.log import AuditLog
from citywatch.audit.witness import WitnessFile
from citywatch.bus.connect import connect_bus
from citywatch.cameras.service import CameraService
from citywatch.changes.service import ChangeService
from citywatch.cluster.gallery_news import tell_after_commit
from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.config.vision import YuNetSettings
from citywatch.domain.audit import SYSTEM, Actor, AuditEvent
from citywatch.domain.bus import EventBus
from citywatch.domain.clock import utc_now
from citywatch.domain.errors import Unavailable
from citywatch.domain.leases import LeaseStore
from citywatch.domain.policy import ModeDecision
from citywatch.domain.ports import Detector, Embedder
from citywatch.domain.records import RequestKind
from citywatch.governance.policy import PolicyService, mode_changed
from citywatch.governance.service import GovernanceService
from citywatch.ingest.recorder import Recorder
from citywatch.leases.connect import open_leases
from citywatch.leases.keeper import LeaseKeeper, process_holder
from citywatch.orders.checks import OrderChecks
from citywatch.orders.service import OrderService
from citywatch.pipeline.camera import CameraPipeline, PipelineStats, TrackOutcome
from citywatch.pipeline.live import LiveCameras
from citywatch.pipeline.worker import CameraWorker
from citywatch.requests.export_store import EXPORTS_FOLDER, clean_orphan_exports
from citywatch.requests.service import RequestService, clean_work_folder
from citywatch.retention.holds import HoldService
from citywatch.retention.orphans import Orphans
from citywatch.retention.purge import Purger
from citywatch.retention.scheduled import ScheduledPurge
from citywatch.retention.segments import FOOTAGE_FOLDER, ORPHAN_GRACE_S, FootageStore
from citywatch.runtime.camera_machinery import CameraMachinery
from citywatch.runtime.metrics import CameraCounts, Metrics
from citywatch.runtime.readiness import Readiness, readiness
from citywatch.runtime.supervisor import ChildStatus, Supervisor
from citywatch.sightings.store import SightingStore
from citywatch.store import watchlist_queries
from citywatch.store.blobs import BlobStore, LocalBlobStore, make_dirs
from citywatch.store.db import Database, open_database
from citywatch.store.private import make_private
from citywatch.store.sighting_tables import Alert
from citywatch.store.staging import CROPS_FOLDER, REQUEST_PHOTOS_FOLDER, WORK_FOLDER, Staging
from citywatch.store.storage import open_archive, open_blobs
from citywatch.users.local import local_actor
from citywatch.users.service import UserService
from citywatch.vision.factory import build_detector, build_embedder
from citywatch.watchlists.gallery import Gallery
from citywatch.watchlists.service import WatchlistService

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a command needs, built lazily: a `persons list` never loads a model."""

    settings: Settings

    actor: Actor = field(default_factory=local_actor)
    """Who the commands act for: the local shell user in the `local` role (see
    citywatch.domain.access) until the front end signs someone in and replaces it."""
    config_path: Path | None = None
    """The configuration file the settings came from (None: defaults and the environment),
    named in the records of what this runtime does under its settings (the audit prune)."""
    supervisor: Supervisor | None = field(default=None, init=False)
    """What `run` supervises (runtime.supervised); None in a process that runs no cameras."""

    def supervised(self) -> list[ChildStatus]:
        """Each supervised camera worker and service: state, restarts, last error."""
        return [] if self.supervisor is None else self.supervisor.status()

    def started_by(self, command: str) -> dict[str, str | int]:
        """Who ran `command` in this process, for a record's params: the acting user, the Unix
        account and process, and the configuration file its settings came from."""
        return {
            "command": command,
            "actor": self.actor.name,
            "role": self.actor.role,
            "unix_user": local_actor().name,
            "pid": os.getpid(),
            "config": str(self.config_path) if self.config_path else "(defaults and environment)",
        }

    @cached_property
    def database(self) -> Database:
        make_private(self.settings.data_dir)  # before the database, its WAL and SHM exist
        return open_database(self.settings.database)

    def work_dir(self) -> Path:
        """The working folder under the data folder (uploads being decoded, a clip being cut:
        never the system's /tmp), created (0700) when missing."""
        folder = self.settings.data_dir / WORK_FOLDER
        make_dirs(folder)
        return folder

    @cached_property
    def metrics(self) -> Metrics:
        """Prometheus metrics: the workers' counts, stage latencies, purges (no personal data)."""
        return Metrics(
            lambda: (
                [CameraCounts(w.status(), w.pipeline.stats) for w in self.live.workers()]
                + [CameraCounts(failed, PipelineStats()) for failed in self.live.failed()]
            ),
            self.supervised,
            spool=lambda: self.footage.spool(),  # noqa: PLW0108 (the footage store built when asked)
        )

    def readiness(self) -> Readiness:
        """Whether this runtime can serve: the database answers at the newest schema, the data
        folder takes writes, every started camera worker is still at work (or being restarted),
        no camera failed to open, and every supervised service runs."""
        return readiness(
            self.database,
            self.settings.data_dir,
            self.live.workers(),
            self.live.failed(),
            self.supervised(),
            spool=self.footage.spool(),
        )

    @cached_property
    def live(self) -> LiveCameras:
        """The cameras at work in this process, for the console (state, latest frame)."""
        return LiveCameras()

    @cached_property
    def leases(self) -> LeaseStore:
        """Camera and singleton leases: in this process without a `bus`, else in NATS KV."""
        return open_leases(self.settings.bus)

    @cached_property
    def bus(self) -> EventBus:
        """Between the processes of a city: in this process without a `bus`, else JetStream."""
        return connect_bus(self.settings.bus, name=f"citywatch-{os.getpid()}")

    @cached_property
    def lease_keeper(self) -> LeaseKeeper:
        """This process's leases, renewed by a thread `run` supervises (`service:leases`)."""
        return LeaseKeeper(self.leases, process_holder())

    @cached_property
    def audit_log(self) -> AuditLog:
        return AuditLog(
            self.database,
            load_or_create(self.settings.data_dir),
            witness=WitnessFile(self.settings.witness_path, fsync=self.settings.audit.witness_fsync),
        )

    @cached_property
    def blobs(self) -> BlobStore:
        """Crops, reference images and requesters' photos: under <data_dir>/blobs, or in the
        object storage the `storage` setting names."""
        return open_blobs(self.settings.storage, self.settings.data_dir / "blobs")

    @cached_property
    def watchlists(self) -> WatchlistService:
        return self.watchlists_as(self.actor)

    def watchlists_as(self, actor: Actor) -> WatchlistService:
        """The watchlists, auditing what they change as `actor` (the API's signed-in caller)
        rather than whom the runtime acts for."""
        return WatchlistService(
            self.database, self.blobs, audit=lambda session, event: self._audit_as(session, actor, event)
        )

    @cached_property
    def sightings(self) -> SightingStore:
        """Sightings as the pipeline stores them, each matched one through the alert raising
        stage (cooldown, kind, severity) in its own transaction."""
        raising = AlertRaising(cooldown_s=self.settings.alerts.cooldown_s, on_alert=self._alert_raised)
        return SightingStore(self.database, self.blobs, raising=raising)

    @cached_property
    def alerts(self) -> AlertStore:
        return AlertStore(self.database)

    @cached_property
    def outbox(self) -> Outbox:
        """Alert messages for the configured sinks, written with each alert."""
        d = self.settings.delivery
        return Outbox(
            self.database,
            d.sinks,
            backoff=Backoff(d.max_attempts, d.backoff_initial_s, d.backoff_max_s),
            clock=utc_now,
            base_url=d.base_url,
            audit=self._audit_in,
        )

    @cached_property
    def feed(self) -> AlertFeed:
        """Alerts for the live feed (server-sent events), published as each alert commits."""
        return AlertFeed(capacity=self.settings.api.feed_queue, base_url=self.settings.delivery.base_url)

    def _alert_raised(self, session: Session, alert: Alert) -> None:
        """In the alert's transaction: its outbox rows, and its place in the live feed on commit."""
        self.outbox.write(session, alert)
        self.feed.stage(session, alert)

    def sink(self, name: str) -> Sink:
        return sink_named(self.settings.delivery, name)

    def dispatcher(self, *, turn: Callable[[], bool] = lambda: True) -> Dispatcher | None:
        return build_dispatcher(self.outbox, self.settings.delivery, turn)

    @cached_property
    def retention(self) -> HoldService:
        """Holds, the purge and its receipts, under the configured retention policy; the
        purge also prunes audit records past `retention.audit_days` behind a signed anchor."""
        return HoldService(
            self.database,
            policy=self.settings.retention.policy(),
            clock=utc_now,
            audit=self._audit_as,
            remove_file=self._remove_file,
            audit_log=self.audit_log,
            bounds=self.settings.retention.hold_bounds(),
            cameras=lambda: [c.id for c in self.cameras()],
        )

    @property
    def purger(self) -> Purger:
        """The purge under the configured retention policy (the holds' own, which plans what
        releasing a hold frees by the same rules)."""
        return self.retention.purger

    @cached_property
    def requests(self) -> RequestService:
        r = self.settings.requests
        return RequestService(
            self.database,
            self.retention,
            deadlines={
                RequestKind.LAW_ENFORCEMENT: timedelta(days=r.law_enforcement_deadline_days),
                RequestKind.SUBJECT_ACCESS: timedelta(days=r.subject_access_deadline_days),
            },
            clock=utc_now,
            audit=self._audit_as,
            remove_photo=self._remove_quietly,
            independence=self.independence,
        )

    def _remove_quietly(self, path: str) -> bool:
        """Unlink a blob whose row is already gone; a failure leaves it to `recover`."""
        try:
            return self.blobs.delete(path)
        except Unavailable:
            log.exception("cannot unlink %s; the next start removes it", path)
            return False

    def _remove_file(self, kind: str, path: str) -> bool:
        """Unlink a stored file of a data class (the purge calls this after its commit)."""
        if kind == "sightings":
            return self.blobs.delete(path)
        if kind == "footage":
            return self.footage.delete_file(path)
        return LocalBlobStore(self.settings.data_dir / kind).delete(path)

    @cached_property
    def purge(self) -> ScheduledPurge:
        """The scheduled purge (`rt.purge()` runs one round): orders that have ended, what an
        interrupted purge left, then what has expired."""
        return ScheduledPurge(
            self.purger,
            end_orders=self.orders.enforce,
            orphans=self.recover,
            started_by=self.started_by("citywatch run (scheduled purge)"),
            purged=self.metrics.purged,
        )

    def known_cameras(self, wanted: Iterable[str]) -> set[str]:
        """The cameras a request may name among `wanted`: those of the city now, and those no
        longer whose footage is still kept."""
        return {c.id for c in self.cameras()} | {c for c in wanted if self.footage.has_footage(c)}

    @cached_property
    def camera_records(self) -> CameraService:
        """The cameras of the city: the configuration file's and the records' (`cameras`)."""
        return CameraService(
            self.database,
            configured=self.settings.cameras,
            clock=utc_now,
            audit=self._audit_as,
            has_footage=lambda camera_id: self.footage.has_footage(camera_id),  # noqa: PLW0108 (built when asked)
        )

    def cameras(self) -> list[CameraSettings]:
        """The cameras the city runs now (read at each call): the file's, then the records'."""
        return [r.settings for r in self.camera_records.cameras()]

    @cached_property
    def footage(self) -> FootageStore:
        """Recorded footage segments under <data_dir>/footage, indexed in the database; with
        object storage (`storage`), that folder is a spool that the footage archive empties."""
        archive = open_archive(self.settings.storage, FOOTAGE_FOLDER)
        return FootageStore(self.database, self.settings.data_dir / FOOTAGE_FOLDER, archive=archive)

    @cached_property
    def governance(self) -> GovernanceService:
        return GovernanceService(
            self.database,
            self.blobs,
            clock=utc_now,
            audit=self._audit_as,
            independence=self.independence,
        )

    @cached_property
    def policy(self) -> PolicyService:
        return PolicyService(
            self.governance, refresh_s=self.settings.policy.refresh_s, on_change=self._mode_changed
        )

    def _mode_changed(self, camera_id: str, new: ModeDecision, old: ModeDecision | None) -> None:
        """A camera's mode changing is the policy acting, recorded as the system."""
        self.audit(mode_changed(camera_id, new, old), actor=SYSTEM)

    @cached_property
    def orders(self) -> OrderService:
        """Stay-at-home orders and the notes (notice, appeal) recorded on alerts."""
        return OrderService(
            self.database, clock=utc_now, audit=self._audit_as, remove_blob=self._remove_quietly
        )

    @cached_property
    def order_checks(self) -> OrderChecks:
        """The orders as cameras ask them (cached; ended ones enforced on refresh)."""
        return OrderChecks(self.orders, refresh_s=self.settings.policy.refresh_s)

    @cached_property
    def users(self) -> UserService:
        return UserService(
            self.database,
            audit=self._audit_in,
            sign_in_audit=lambda session, who, event: self._audit_as(session, who or self.actor, event),
        )

    def users_as(self, actor: Actor) -> UserService:
        """The users' service, auditing what it changes as `actor` (the API's signed-in caller, or
        the public while nobody is signed in). A sign-in is recorded as the person signing in;
        a failed one as `actor`."""
        return UserService(
            self.database,
            audit=lambda session, event: self._audit_as(session, actor, event),
            sign_in_audit=lambda session, who, event: self._audit_as(session, who or actor, event),
        )

    @cached_property
    def changes(self) -> ChangeService:
        """Changes waiting for a second person (two-person rule)."""
        return ChangeService(
            self.database,
            self.blobs,
            audit=self._audit_as,
            retention=self.retention,
            independence=self.independence,
        )

    @cached_property
    def alert_reviews(self) -> AlertReviews:
        return AlertReviews(self.database, audit=self._audit_as, independence=self.independence)

    @property
    def independence(self) -> timedelta:
        """How long the two-person rule looks back for what the first person did to the
        second's account (`policy.independence_days`)."""
        return timedelta(days=self.settings.policy.independence_days)

    def _audit_in(self, session: Session, event: AuditEvent) -> None:
        self._audit_as(session, self.actor, event)

    def _audit_as(self, session: Session, actor: Actor, event: AuditEvent) -> None:
        fields = {f.name: getattr(event, f.name) for f in dataclass_fields(event)}
        self.audit_log.append(session, actor=actor.name, role=actor.role, **fields)
        if self.settings.bus:  # a city's workers hear of a changed gallery once it commits
            tell_after_commit(self.bus, session, event.action)

    def audit(self, event: AuditEvent, *, actor: Actor | None = None) -> None:
        """Record an action that has no transaction of its own (a search, a camera start), as
        `actor` (default: whom the runtime acts for; the API passes the signed-in caller)."""
        with self.database.session() as session:
            self._audit_as(session, self.actor if actor is None else actor, event)

    @cached_property
    def detector(self) -> Detector:
        return build_detector(self.settings.detector, self.settings.models_dir)

    @cached_property
    def redaction_detector(self) -> Detector:
        """The detector at a lower score floor (`requests.redact_min_score`): what a
        subject-access export blurs, where a missed face would be a leak."""
        floor = self.settings.requests.redact_min_score
        settings = self.settings.detector
        if isinstance(settings, YuNetSettings):
            settings = settings.model_copy(update={"score_threshold": min(floor, settings.score_threshold)})
        return build_detector(settings, self.settings.models_dir)

    @cached_property
    def embedder(self) -> Embedder:
        return build_embedder(self.settings.embedder)

    @cached_property
    def gallery(self) -> Gallery:
        """The watchlists' templates in memory, as the cameras match against them."""
        return Gallery(self.watchlists, lambda: self.embedder, self.settings.matching)

    @cached_property
    def machinery(self) -> CameraMachinery:
        """What this process's cameras are built from: sightings stored here, footage indexed."""
        return CameraMachinery(
            settings=self.settings,
            detector=self.detector,
            embedder=self.embedder,
            gallery=self.gallery,
            policy=self.policy,
            orders=lambda person, camera, at: self.order_checks.check(person, camera.geo, at),
            save=self.sightings.add_sighting,
            segments=self.footage,
            on_stage=self.metrics.stage,
            live=self.live,
        )

    def pipeline(self, camera: CameraSettings, *, still_images: bool = False) -> CameraPipeline:
        return self.machinery.pipeline(camera, still_images=still_images)

    def recover(self) -> int:
        """Remove crop, reference, request photo, footage and export files a crash left
        behind without their database row, then the per-day folders purges emptied (never
        today's); returns the number of files removed."""
        exports = self.settings.data_dir / EXPORTS_FOLDER
        photos = Staging(self.database, self.blobs)
        return Orphans(
            cleaners=(
                self.sightings.clean_orphan_crops,
                self.watchlists.clean_orphan_references,
                lambda: photos.clean_orphans(
                    REQUEST_PHOTOS_FOLDER, watchlist_queries.all_request_photo_paths
                ),
                self.footage.clean_orphans,
                lambda: clean_orphan_exports(self.database, exports),
                lambda: clean_work_folder(self.settings.data_dir / WORK_FOLDER, older_than_s=ORPHAN_GRACE_S),
            ),
            day_folders=(self.footage.root, exports),
            blob_day_folders=((self.blobs, CROPS_FOLDER),),
        ).recover(utc_now().date())

    def camera_worker(
        self, camera: CameraSettings, on_outcome: Callable[[TrackOutcome], None] = lambda _: None
    ) -> CameraWorker:
        return self.machinery.camera_worker(camera, on_outcome)

    def recorder(self, camera: CameraSettings) -> Recorder | None:
        return self.machinery.recorder(camera)

    def close(self) -> None:
        if "bus" in self.__dict__:
            self.bus.close()
        if "lease_keeper" in self.__dict__:
            self.lease_keeper.stop()  # its leases given back
        if "leases" in self.__dict__:
            self.leases.close()
        if "database" in self.__dict__:
            self.database.close()


def build_runtime(settings: Settings, *, config_path: Path | None = None) -> Runtime:
    return Runtime(settings, config_path=config_path)
