"""A worker's sightings onto the bus from a thread of its own, in batches.

A JetStream publish returns once the server has written the message to disk (`sync_interval:
always` fsyncs first): milliseconds, which a camera's pipeline would otherwise wait out for
every sighting, and which bounds a worker to a few hundred sightings a second. Here the
pipeline hands a message over and goes on; one thread sends whatever has gathered meanwhile
as one pipelined batch (`EventBus.publish_many`), so a slow round trip makes the batches
bigger, not the cameras slower.

Nothing acknowledged is lost, and nothing is stored twice: a batch the bus did not
acknowledge is sent again, whole and in order, with the same message ids (JetStream drops
what it already has within its duplicate window; the store keys each sighting by its source
anyway). A message whose `valid` check fails by the time it is sent (its camera's lease was
lost) is dropped there, and counted; the store would refuse it anyway (the camera's fence).
While the bus is away messages wait, up to `limit`; past it `put` raises `Unavailable`, and
the pipeline keeps the sighting and hands it over again later (`pipeline.camera`).

What waits here is in this process's memory, like a track still being followed: a worker
killed outright loses the last moments' sightings that the bus had not yet acknowledged (a
stop lets it send them first, within `flush_s`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from citywatch.domain.bus import EventBus, Outgoing
from citywatch.domain.errors import InvalidInput, Unavailable
from citywatch.domain.lifecycle import Death, ThreadChild

log = logging.getLogger(__name__)

BATCH = 500
LIMIT = 20_000
RETRY_S = 1.0
FLUSH_S = 10.0


@dataclass
class PublisherCounts:
    sent: int = 0
    dropped: int = 0
    """Dropped unsent: no longer `valid` (the camera's lease was lost)."""
    retries: int = 0


class Publisher(ThreadChild):
    """A supervised child: `put` hands a message over; a thread sends them in batches."""

    def __init__(
        self,
        bus: EventBus,
        *,
        batch: int = BATCH,
        limit: int = LIMIT,
        retry_s: float = RETRY_S,
        flush_s: float = FLUSH_S,
    ) -> None:
        self._bus = bus
        self._batch, self._limit, self._retry_s, self._flush_s = batch, limit, retry_s, flush_s
        self._waiting: deque[tuple[Outgoing, Callable[[], bool]]] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self.counts = PublisherCounts()
        self._thread = threading.Thread(target=self._loop, name="bus-publisher", daemon=True)

    def put(self, message: Outgoing, valid: Callable[[], bool] = lambda: True) -> None:
        with self._ready:
            if self._stopping:
                raise Unavailable("the publisher is stopping")
            if len(self._waiting) >= self._limit:
                raise Unavailable(f"{len(self._waiting)} messages wait for the bus already")
            self._waiting.append((message, valid))
            self._ready.notify()

    def waiting(self) -> int:
        with self._ready:
            return len(self._waiting)

    def _next_batch(self) -> list[tuple[Outgoing, Callable[[], bool]]]:
        """What waits, up to a batch (empty once stopping and nothing waits)."""
        with self._ready:
            while not self._waiting and not self._stopping:
                self._ready.wait(0.5)
            return [self._waiting[i] for i in range(min(self._batch, len(self._waiting)))]

    def _loop(self) -> None:
        stop_by = None
        while True:
            batch = self._next_batch()
            if not batch:
                return
            if self._stopping and stop_by is None:
                stop_by = time.monotonic() + self._flush_s
            if stop_by is not None and time.monotonic() > stop_by:
                log.error("%d sighting message(s) not sent before the worker stopped", self.waiting())
                return
            try:
                self._send(batch)
            except Exception:  # a bug: keep what waits, and try again
                log.exception("bus publisher: a batch failed")
                time.sleep(self._retry_s)

    def _send(self, batch: list[tuple[Outgoing, Callable[[], bool]]]) -> None:
        keep = [message for message, valid in batch if valid()]
        try:
            self._bus.publish_many(keep)
        except Unavailable as exc:  # sent again, whole and with the same ids
            self.counts.retries += 1
            log.warning("bus: %d message(s) not acknowledged (%s); sending again", len(keep), exc)
            time.sleep(self._retry_s)
            return
        except InvalidInput:  # one message the bus cannot carry: the others go, one by one
            keep = self._one_by_one(keep)
        with self._ready:
            for _ in batch:
                self._waiting.popleft()
        self.counts.sent += len(keep)
        self.counts.dropped += len(batch) - len(keep)

    def _one_by_one(self, messages: list[Outgoing]) -> list[Outgoing]:
        sent = []
        for message in messages:
            try:
                self._bus.publish_many([message])
                sent.append(message)
            except InvalidInput as exc:
                log.error("bus message %s dropped, the bus cannot carry it: %s", message.msg_id, exc)
        return sent

    # --- supervised child --------------------------------------------------------------------

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()

    @property
    def death(self) -> Death | None:
        return None  # it does not die: a failing batch waits and is sent again
