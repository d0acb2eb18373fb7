"""The stores the runtime wires, built the same way on a bare database for store-level tests:
watchlists, sightings (through the alert raising stage) and alerts over one database and one
blob store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from citywatch.alerts.raising import AlertHook, AlertRaising
from citywatch.alerts.store import AlertStore
from citywatch.audit.hooks import AuditHook
from citywatch.domain.clock import Clock, utc_now
from citywatch.sightings.store import SightingStore
from citywatch.store.blobs import BlobStore
from citywatch.store.db import Database
from citywatch.watchlists.service import WatchlistService


@dataclass
class Stores:
    db: Database
    blobs: BlobStore
    clock: Clock = utc_now
    alert_cooldown_s: float = 0.0
    audit: AuditHook | None = None
    on_alert: AlertHook | None = None
    watchlists: WatchlistService = field(init=False)
    sightings: SightingStore = field(init=False)
    alerts: AlertStore = field(init=False)

    def __post_init__(self) -> None:
        self.watchlists = WatchlistService(self.db, self.blobs, clock=self.clock, audit=self.audit)
        raising = AlertRaising(cooldown_s=self.alert_cooldown_s, on_alert=self.on_alert)
        self.sightings = SightingStore(self.db, self.blobs, raising=raising, clock=self.clock)
        self.alerts = AlertStore(self.db)

    def close(self) -> None:
        self.db.close()


class StoresLike(Protocol):
    """Stores or a Runtime: whatever holds the three stores by these names."""

    @property
    def watchlists(self) -> WatchlistService: ...

    @property
    def sightings(self) -> SightingStore: ...

    @property
    def alerts(self) -> AlertStore: ...
