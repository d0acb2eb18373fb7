"""The dispatcher: a background thread that claims due outbox rows and hands each to its
sink; a failure is counted and retried with backoff, the last one dead-lettered, and every
one logged. Nothing is dropped: a row leaves `pending` only as `delivered` or `dead`."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping

from citywatch.alerts.delivery.message import Message
from citywatch.alerts.delivery.outbox import Outbox, OutboxEntry, OutboxStatus
from citywatch.alerts.delivery.sink import DeliveryFailed, Sink
from citywatch.domain.errors import CitywatchError
from citywatch.domain.lifecycle import Death, ThreadChild

log = logging.getLogger(__name__)

BATCH = 100
DRAIN_S = 10.0
"""How long `stop` lets a last round deliver what became due meanwhile (alerts raised by the
tracks cameras store as they stop)."""

Delivered = Callable[[OutboxEntry], None]
"""Told of every delivered message (an in-process publish hook, e.g. for the UI's events)."""


class Dispatcher(ThreadChild):
    """Delivers the outbox's due rows, one sink at a time; a sink that fails is not tried
    again in the same round (its other rows wait for the same backoff). `turn` is asked before
    each round: False skips it (another process holds the relay's singleton lease)."""

    def __init__(
        self,
        outbox: Outbox,
        sinks: Mapping[str, Sink],
        *,
        poll_s: float = 1.0,
        batch: int = BATCH,
        on_delivered: Delivered | None = None,
        turn: Callable[[], bool] = lambda: True,
    ) -> None:
        self._outbox = outbox
        self._sinks = dict(sinks)
        self._poll_s = poll_s
        self._batch = batch
        self._on_delivered = on_delivered
        self._turn = turn
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alert-delivery", daemon=True)
        self.counts: Counter[str] = Counter()
        """`delivered`, `failed` (attempts that will be retried), `dead`, `errors` (rounds
        that could not read the outbox)."""

    def start(self) -> None:
        for sink in self._sinks.values():
            try:
                sink.start()  # connect early; a broker that is down is retried in the background
            except DeliveryFailed as exc:
                log.warning("%s", exc)
        super().start()

    @property
    def death(self) -> Death | None:
        """A round's failure never ends delivery; only a stop does. A thread that ended
        otherwise died (the supervisor restarts it)."""
        if not self.done or self._stop.is_set():
            return None
        return Death("the alert delivery thread ended unexpectedly")

    def wake(self) -> None:
        """Look for due rows now rather than at the next poll."""
        self._wake.set()

    def stop(self, drain_s: float = DRAIN_S) -> None:
        """Finish the round in progress, run one last one, then close the sinks."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(drain_s + 2 * self._poll_s)
            if self._thread.is_alive():
                log.error("alert delivery did not stop within %.0f s; undelivered rows stay pending", drain_s)
        for sink in self._sinks.values():
            sink.close()
        try:
            left = self._outbox.counts()
        except CitywatchError as exc:
            log.warning("alert delivery stopped; the outbox cannot be counted: %s", exc)
            return
        log.info(
            "alert delivery: %d delivered, %d failed attempts, %d dead-lettered; outbox: %d pending, %d dead",
            self.counts["delivered"],
            self.counts["failed"],
            self.counts["dead"],
            left[OutboxStatus.PENDING],
            left[OutboxStatus.DEAD],
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._round_safely()
            self._wake.wait(self._poll_s)
            self._wake.clear()
        self._round_safely()  # what the cameras stored while stopping

    def _round_safely(self) -> None:
        try:
            if self._turn():
                self.run_once()
        except CitywatchError as exc:  # the database is busy or gone: the rows wait
            self.counts["errors"] += 1
            log.error("alert delivery: cannot read the outbox (%s); retrying in %.1f s", exc, self._poll_s)
        except Exception:  # a bug must not end delivery for good: the rows wait, the log says why
            self.counts["errors"] += 1
            log.exception("alert delivery: a round failed unexpectedly; retrying in %.1f s", self._poll_s)

    def run_once(self) -> int:
        """One round: claim the due rows and try each; returns how many were delivered."""
        entries = self._outbox.claim(self._batch)
        delivered = 0
        broken: set[str] = set()
        for i, entry in enumerate(entries):
            if entry.sink in broken:
                continue
            failed = self._deliver(entry)
            if failed is None:
                delivered += 1
                continue
            broken.add(entry.sink)
            rest = [e.id for e in entries[i + 1 :] if e.sink == entry.sink]
            self._outbox.defer(rest, self._outbox.backoff.delay_s(failed.attempts))
        return delivered

    def _deliver(self, entry: OutboxEntry) -> OutboxEntry | None:
        """None when delivered; else the row as the failure left it."""
        sink = self._sinks.get(entry.sink)
        try:
            if sink is None:
                raise DeliveryFailed(f"sink {entry.sink!r} is not configured (any more)")
            sink.send(Message(entry.key, entry.topic, entry.body))
        except Exception as exc:  # any failure of a sink is a failed attempt, retried with backoff
            problem = str(exc) if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}"
            after = self._outbox.failed(entry.id, problem)
            if after.status is OutboxStatus.DEAD:
                self.counts["dead"] += 1
                log.error(
                    "outbox #%d (alert %s) dead after %d attempts to %s: %s; "
                    "`citywatch alerts replay %d` sends it again",
                    entry.id,
                    entry.alert_id,
                    after.attempts,
                    entry.sink,
                    problem,
                    entry.id,
                )
            else:
                self.counts["failed"] += 1
                log.warning(
                    "outbox #%d (alert %s) not delivered to %s (attempt %d of %d): %s; next at %s",
                    entry.id,
                    entry.alert_id,
                    entry.sink,
                    after.attempts,
                    self._outbox.backoff.max_attempts,
                    problem,
                    after.next_attempt_at.isoformat(timespec="seconds"),
                )
            return after
        self._outbox.delivered(entry.id)
        self.counts["delivered"] += 1
        log.debug("outbox #%d (alert %s) delivered to %s", entry.id, entry.alert_id, entry.sink)
        if self._on_delivered is not None:
            try:
                self._on_delivered(entry)
            except Exception:  # a listener's bug is not a failed delivery
                log.exception("outbox #%d: the on_delivered listener failed", entry.id)
        return None
