"""Stay-at-home orders as running cameras ask them: a snapshot of the orders, refreshed
every few seconds (read only; ending orders is `OrderStore.enforce`, on a schedule)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from citywatch.domain.errors import Unavailable
from citywatch.domain.orders import Order, OrderCheck, check_order
from citywatch.domain.policy import GeoPoint
from citywatch.store.orders import OrderStore

log = logging.getLogger(__name__)


class OrderService:
    def __init__(
        self,
        store: OrderStore,
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
