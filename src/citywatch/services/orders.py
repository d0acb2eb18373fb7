"""Stay-at-home orders as running cameras ask them: a snapshot of the orders, refreshed
every few seconds, with ended orders enforced (templates deleted, receipts) on the way."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._clock = clock
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
        now = self._clock()
        orders = [i.order for i in self._store.orders(include_ended=True)]
        if any(o.status.value == "active" and o.ended(now) for o in orders):
            for receipt in self._store.enforce():
                log.info(
                    "an order ended: %d template(s) deleted (receipt %d)",
                    receipt.counts["templates"],
                    receipt.id,
                )
            orders = [i.order for i in self._store.orders(include_ended=True)]
        return orders
