"""The store consumer (`citywatch store`): sightings from the bus into the metadata store and
the blob store, each exactly once, under the same rules as in one process.

Every process running it shares one durable consumer (`store`): JetStream hands each message
to one of them, and hands it again when it is not acknowledged within the ack wait (the
process died, or the database was away). A fetched batch is stored in one transaction
(`SightingStore.add_sightings`: one insert, or, when one is refused, a savepoint per sighting
so that the others are stored), and each message is acknowledged only after that commit, so nothing
acknowledged is lost; a second delivery finds the sighting stored under its source key and is
acknowledged without a second row. The insert checks what it checks in one process: the
authorisation still open (`PermissionDenied`: dropped, as the pipeline drops it), and, for the
bus, the camera's lease (`Fenced`: a worker that lost its camera wrote it; dropped and counted).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from citywatch.cluster.messages import SIGHTINGS, decode_sighting
from citywatch.domain.bus import BusMessage, Consumer, EventBus
from citywatch.domain.errors import CitywatchError, Fenced, InvalidInput, PermissionDenied, Unavailable
from citywatch.domain.lifecycle import Death, ThreadChild
from citywatch.domain.records import SightingOrigin, SightingRecord, SightingSaved
from citywatch.sightings.batch import Outcome
from citywatch.sightings.store import SightingStore

log = logging.getLogger(__name__)

DURABLE = "store"
RETRY_S = 2.0
"""How long a message waits before it is delivered again after the store was unavailable."""


@dataclass
class ConsumerCounts:
    stored: int = 0
    duplicates: int = 0
    fenced: int = 0
    withheld: int = 0
    malformed: int = 0
    retried: int = 0


class SightingConsumer(ThreadChild):
    """A supervised child: fetches batches of sightings and stores them, until stopped."""

    def __init__(
        self,
        bus: EventBus,
        sightings: SightingStore,
        *,
        batch: int = 250,
        ack_wait_s: float = 30.0,
        durable: str = DURABLE,
    ) -> None:
        self._consumer: Consumer = bus.consumer(durable, [f"{SIGHTINGS}.>"], ack_wait_s=ack_wait_s)
        self._sightings = sightings
        self._batch = batch
        self.counts = ConsumerCounts()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="store-consumer", daemon=True)
        self._death: Death | None = None

    @property
    def consumer(self) -> Consumer:
        return self._consumer

    def run_once(self, timeout_s: float = 1.0) -> int:
        """Fetch one batch and store it in one transaction (`SightingStore.add_sightings`),
        then settle each message by its sighting's outcome; returns how many were handled."""
        messages = self._consumer.fetch(self._batch, timeout_s)
        decoded: list[BusMessage] = []
        items: list[tuple[SightingRecord, SightingOrigin]] = []
        for message in messages:
            try:
                items.append(decode_sighting(message.payload))
            except InvalidInput as exc:
                self._settle(message, exc)
            else:
                decoded.append(message)
        if not items:
            return len(messages)
        try:
            outcomes = self._sightings.add_sightings(items)
        except CitywatchError as exc:  # Unavailable (the database, the blob store): all wait
            log.warning(
                "%d sightings not stored yet (%s); delivered again in %.0f s", len(items), exc, RETRY_S
            )
            for message in decoded:
                message.nak(RETRY_S)
                self.counts.retried += 1
            return len(messages)
        for message, outcome in zip(decoded, outcomes, strict=True):  # after the commit
            self._settle(message, outcome)
        return len(messages)

    def _settle(self, message: BusMessage, outcome: Outcome) -> None:
        """Acknowledge a message whose sighting committed (or was stored already); drop one
        that can never be stored; leave one for a later delivery when the store was away."""
        if isinstance(outcome, SightingSaved):
            if outcome.duplicate:
                self.counts.duplicates += 1
            else:
                self.counts.stored += 1
            message.ack()
        elif isinstance(outcome, Fenced):
            self.counts.fenced += 1
            log.warning("sighting %s refused: %s", message.msg_id, outcome)
            message.term()
        elif isinstance(outcome, PermissionDenied):
            self.counts.withheld += 1
            log.info("sighting %s not stored: %s", message.msg_id, outcome)
            message.term()
        elif isinstance(outcome, InvalidInput):
            self.counts.malformed += 1
            log.error("sighting %s dropped, it can never be stored: %s", message.msg_id, outcome)
            message.term()
        else:  # a conflict not resolved as a duplicate (another consumer's, meanwhile)
            self.counts.retried += 1
            log.warning(
                "sighting %s not stored yet (%s); delivered again in %.0f s", message.msg_id, outcome, RETRY_S
            )
            message.nak(RETRY_S)

    # --- supervised child --------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    @property
    def death(self) -> Death | None:
        return self._death

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.run_once()
                except Unavailable as exc:
                    log.warning("store consumer: the bus is away (%s); retrying", exc)
                    self._stop.wait(RETRY_S)
        except Exception as exc:  # a bug: the supervisor restarts the consumer, with why
            log.exception("store consumer died")
            self._death = Death(f"{type(exc).__name__}: {exc}")
        finally:
            self._consumer.close()
