"""The store consumer (`citywatch store`): sightings from the bus into the metadata store and
the blob store, each exactly once, under the same rules as in one process.

Every process running it shares one durable consumer (`store`): JetStream hands each message
to one of them, and hands it again when it is not acknowledged within the ack wait (the
process died, or the database was away). A message is acknowledged only after its sighting
committed, so nothing acknowledged is lost; a second delivery finds the sighting stored
under its source key and is acknowledged without a second row (`SightingStore.add_sighting`
with an origin). The insert checks what it checks in one process: the authorisation still
open (`PermissionDenied`: dropped, as the pipeline drops it), and, for the bus, the camera's
lease (`Fenced`: a worker that lost its camera wrote it; dropped and counted).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from citywatch.cluster.messages import SIGHTINGS, decode_sighting
from citywatch.domain.bus import BusMessage, Consumer, EventBus
from citywatch.domain.errors import CitywatchError, Fenced, InvalidInput, PermissionDenied, Unavailable
from citywatch.domain.lifecycle import Death
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


class SightingConsumer:
    """A supervised child: fetches batches of sightings and stores them, until stopped."""

    def __init__(
        self,
        bus: EventBus,
        sightings: SightingStore,
        *,
        batch: int = 100,
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
        """Fetch one batch and store it; returns how many messages were handled."""
        messages = self._consumer.fetch(self._batch, timeout_s)
        for i, message in enumerate(messages):
            if not self._handle(message):  # the store is away: the rest wait too
                for rest in messages[i + 1 :]:
                    rest.nak(RETRY_S)
                    self.counts.retried += 1
                break
        return len(messages)

    def _handle(self, message: BusMessage) -> bool:
        """Store one message and acknowledge it; False when the store is unavailable (the
        message is delivered again later)."""
        try:
            record, origin = decode_sighting(message.payload)
            saved = self._sightings.add_sighting(record, origin)
        except Fenced as exc:
            self.counts.fenced += 1
            log.warning("sighting %s refused: %s", message.msg_id, exc)
            message.term()
        except PermissionDenied as exc:
            self.counts.withheld += 1
            log.info("sighting %s not stored: %s", message.msg_id, exc)
            message.term()
        except InvalidInput as exc:
            self.counts.malformed += 1
            log.error("sighting %s dropped, it can never be stored: %s", message.msg_id, exc)
            message.term()
        except CitywatchError as exc:  # Unavailable (the database, the blob store), a conflict
            self.counts.retried += 1
            log.warning(
                "sighting %s not stored yet (%s); delivered again in %.0f s", message.msg_id, exc, RETRY_S
            )
            message.nak(RETRY_S)
            return False
        else:
            if saved.duplicate:
                self.counts.duplicates += 1
            else:
                self.counts.stored += 1
            message.ack()
        return True

    # --- supervised child --------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive() and self._thread.ident is not None

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
