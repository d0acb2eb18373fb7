"""The purge `citywatch run` runs on a schedule: orders that have ended first, then what has
expired, as the system."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from citywatch.audit.receipts import ReceiptInfo
from citywatch.domain.audit import SYSTEM
from citywatch.retention.purge import Purger


@dataclass(frozen=True, slots=True)
class ScheduledPurge:
    """One scheduled round: end the orders whose window has passed (their templates go, with
    their receipts, before anything else expires), remove what an interrupted purge left, then
    purge what has expired as the system, and count what went."""

    purger: Purger
    end_orders: Callable[[], object]
    """Ends the stay-at-home orders whose window has passed."""
    orphans: Callable[[], int]
    """Removes files a crash left without their rows; returns how many."""
    started_by: Mapping[str, Any]
    """The process, user and configuration named in the audit prune's record."""
    purged: Callable[[Mapping[str, int]], None] = lambda _counts: None
    """Told each receipt's counts (the metrics)."""

    def __call__(self) -> ReceiptInfo | None:
        """The round's receipt; None when nothing was due."""
        self.end_orders()
        receipt = self.purger.purge(by=SYSTEM, orphans=self.orphans, started_by=self.started_by)
        if receipt is not None:
            self.purged(receipt.counts)
        return receipt
