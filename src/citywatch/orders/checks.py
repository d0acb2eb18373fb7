"""Stay-at-home orders as running cameras ask them: a snapshot of the orders, refreshed
every few seconds (read only; ending orders is `OrderService.enforce`, on a schedule)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from citywatch.config.ingest import CameraSettings
from citywatch.domain.errors import Unavailable
from citywatch.domain.orders import Order, OrderCheck, check_order
from citywatch.domain.policy import CameraPlace, GeoPoint, PolicySnapshot, mode_for
from citywatch.governance.policy import PolicyService
from citywatch.orders.service import OrderInfo, OrderService
from citywatch.watchlists.service import WatchlistService

log = logging.getLogger(__name__)


class OrderChecks:
    def __init__(
        self,
        store: OrderService,
        *,
        refresh_s: float,
    ) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._orders: list[Order] | None = None
        self._loaded_at = 0.0

    def check(self, person_id: int, camera: GeoPoint | None, at: datetime) -> OrderCheck:
        return check_order(self.snapshot(), person_id, camera, at)

    def snapshot(self) -> list[Order]:
        """Every order, ended ones included (a person whose order ended is still not an
        ordinary match: the order was the only reason to look for them)."""
        with self._lock:
            now = time.monotonic()
            if self._orders is None or now - self._loaded_at > self._refresh_s:
                try:
                    self._orders = self._load()
                except Unavailable as exc:
                    if self._orders is None:
                        raise
                    log.warning("orders not reloaded (%s); checking against the loaded ones", exc)
                    return self._orders
                self._loaded_at = now
            return self._orders

    def refresh(self) -> None:
        with self._lock:
            self._orders = None

    def _load(self) -> list[Order]:
        # Read only: a camera thread must not wait on deletions. An order past its window is
        # no longer in force (`check_order` says so); `run`'s schedule and the purge end it.
        return [i.order for i in self._store.orders(include_ended=True)]


@dataclass(frozen=True, slots=True)
class OrderCoverage:
    """Which cameras check an order now. An order no camera checks does nothing, and that
    must not go unnoticed."""

    watchlist: str
    """The person's watchlist: a camera checks the order when it identifies against it."""
    checking: tuple[str, ...]
    """Cameras with a location whose policy identifies against the watchlist now."""
    unplaced: tuple[str, ...]
    """Cameras that identify against it but have no location: they take no part."""


def order_coverage(
    watchlist: str, cameras: Iterable[CameraPlace], snapshot: PolicySnapshot, at: datetime
) -> OrderCoverage:
    """The cameras whose policy at `at` identifies against `watchlist` (an authorisation in
    force bound to it), split by whether they have a location. Pure."""
    checking: list[str] = []
    unplaced: list[str] = []
    for camera in cameras:
        if watchlist in mode_for(camera, snapshot, at).watchlists:
            (checking if camera.location is not None else unplaced).append(camera.id)
    return OrderCoverage(watchlist, tuple(checking), tuple(unplaced))


def coverage_of(
    watchlists: WatchlistService, policy: PolicyService, cameras: Sequence[CameraSettings], info: OrderInfo
) -> OrderCoverage | None:
    """Which of the configured `cameras` check the order now, under `policy` (the person's
    watchlist read from `watchlists`); None for an order whose person is gone."""
    if info.order.person_id is None:
        return None
    watchlist = watchlists.get_person(info.order.person_id).watchlist_name
    places = [CameraPlace(c.id, c.mode, c.geo) for c in cameras]
    return order_coverage(watchlist, places, policy.snapshot(), datetime.now(UTC))
