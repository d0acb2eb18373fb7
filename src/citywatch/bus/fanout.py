"""A listener over JetStream: every message published to its subjects from the moment it
subscribes, in order, to a handler of its own (fan-out: every listener gets every message).

Each listener is an ephemeral push consumer without acknowledgements (in memory, one replica,
deleted by the server once nobody listens), started at the stream's next sequence, that
delivers to an inbox of the listener's own. The listener keeps the stream sequence it has
handed over and the consumer's delivery sequence: a gap (a message lost on the way, a slow
handler's full queue), a reconnection, or a silence longer than three idle heartbeats (the
server lost the consumer) makes it start a new consumer from the first
sequence it has not handed over. So a server restart or a reconnect loses nothing published
meanwhile, and nothing is handed over twice. (nats-py's own ordered consumer would restart
from the stream's first message when that happens before its first delivery.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from citywatch.bus.handlers import HandlerThread
from citywatch.cluster.nats import NATS_ERRORS, NatsClient
from citywatch.domain.bus import RESERVED_HEADER_PREFIX, BusMessage
from citywatch.domain.errors import Unavailable

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
"""The consumer's idle heartbeat: a listener notices a lost consumer within three of them."""
_STATUS = "Status"
_LAST_CONSUMER = "Nats-Last-Consumer"


def headers_of(message: Msg) -> tuple[str, Mapping[str, str]]:
    """A JetStream message's id and its caller's headers (not the bus's own)."""
    raw = message.headers or {}
    msg_id = raw.get("Nats-Msg-Id", "")
    return msg_id, {
        name: value for name, value in raw.items() if not name.lower().startswith(RESERVED_HEADER_PREFIX)
    }


@dataclass(frozen=True, slots=True)
class Heard:
    """A listener's message (`citywatch.domain.bus.BusMessage`): nothing to settle."""

    subject: str
    payload: bytes
    msg_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    deliveries: int = 1

    def ack(self) -> None:
        return None

    def nak(self, delay_s: float = 0.0) -> None:
        return None

    def term(self) -> None:
        return None


class FanOut:
    """One listener (`citywatch.domain.bus.Subscription`); `start` returns once it listens."""

    def __init__(
        self,
        client: NatsClient,
        stream: str,
        subjects: tuple[str, ...],
        handler: Callable[[BusMessage], None],
        *,
        forget: Callable[[FanOut], None] | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        capacity: int = 10_000,
    ) -> None:
        self._client = client
        self._stream = stream
        self._subjects = subjects
        self._heartbeat_s = heartbeat_s
        self._forget = forget
        self._handlers = HandlerThread(handler, name=f"bus-listen-{subjects[0]}", capacity=capacity)
        self._next_seq = 0
        self._delivered = 0
        self._inbox = ""
        self._subscription: NatsSubscription | None = None
        self._consumer: str | None = None
        self._heard_at = time.monotonic()
        self._stale = False
        self._reconnects = 0
        self._watch: asyncio.Task[None] | None = None
        self._closed = False

    def start(self, *, timeout_s: float) -> None:
        try:
            self._client.call(self._start, timeout_s=timeout_s)
        except BaseException:
            self._handlers.close()
            raise

    async def _start(self) -> None:
        info = await self._client.jetstream.stream_info(self._stream)
        self._next_seq = int(info.state.last_seq) + 1
        await self._resubscribe()
        self._watch = asyncio.get_running_loop().create_task(self._watch_loop())

    async def _resubscribe(self) -> None:
        """A new inbox and a new consumer from the first sequence not yet handed over."""
        client, js = self._client.client, self._client.jetstream
        old_subscription, old_consumer = self._subscription, self._consumer
        inbox = client.new_inbox()
        # from here on only the new inbox counts: its first message may come before the
        # consumer's creation is confirmed
        self._inbox, self._delivered, self._stale, self._heard_at = inbox, 0, False, time.monotonic()
        self._reconnects = self._reconnect_count()

        async def on_message(message: Msg) -> None:
            await self._on_message(message, inbox)

        try:
            subscription = await client.subscribe(inbox, cb=on_message)
        except BaseException:
            self._stale = True
            raise
        try:
            created = await js.add_consumer(self._stream, self._config(inbox), timeout=2.0)
        except BaseException:
            self._stale = True
            await self._drop(subscription, None)
            raise
        self._subscription, self._consumer = subscription, created.name
        await self._drop(old_subscription, old_consumer)

    def _config(self, inbox: str) -> ConsumerConfig:
        return ConsumerConfig(
            name=f"listen-{inbox.rsplit('.', 1)[-1]}",
            deliver_subject=inbox,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self._next_seq,
            ack_policy=AckPolicy.NONE,
            **filters(self._subjects),
            idle_heartbeat=self._heartbeat_s,
            inactive_threshold=max(30.0, 10 * self._heartbeat_s),
            mem_storage=True,
            num_replicas=1,
        )

    def _reconnect_count(self) -> int:
        return int(self._client.client.stats.get("reconnects", 0))

    async def _drop(self, subscription: NatsSubscription | None, consumer: str | None) -> None:
        """Best effort: the server deletes an abandoned consumer by itself after a while."""
        if subscription is not None:
            with contextlib.suppress(*NATS_ERRORS):
                await subscription.unsubscribe()
        if consumer is not None and self._client.connected:
            with contextlib.suppress(*NATS_ERRORS):
                await asyncio.wait_for(self._client.jetstream.delete_consumer(self._stream, consumer), 1.0)

    async def _on_message(self, message: Msg, inbox: str) -> None:
        if inbox != self._inbox or self._stale:
            return  # an earlier consumer's, or waiting for the next one
        self._heard_at = time.monotonic()
        headers = message.headers or {}
        if headers.get(_STATUS):  # an idle heartbeat (or flow control): is anything missing?
            last = headers.get(_LAST_CONSUMER)
            if last is not None and int(last) != self._delivered:
                self._stale = True
            if message.reply:
                await self._client.client.publish(message.reply)
            return
        sequences = message.metadata.sequence
        if sequences.consumer != self._delivered + 1:
            self._stale = True  # a gap: start again from the first not handed over
            return
        msg_id, caller_headers = headers_of(message)
        if not self._handlers.offer(Heard(message.subject, message.data, msg_id, caller_headers)):
            self._stale = True  # the handler is behind: hear it again later
            return
        self._delivered += 1
        self._next_seq = sequences.stream + 1

    async def _watch_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(min(0.25, self._heartbeat_s))
            silent = time.monotonic() - self._heard_at > 3 * self._heartbeat_s
            reconnected = self._reconnect_count() != self._reconnects  # its consumer may be gone
            if not (self._stale or silent or reconnected) or not self._client.connected:
                continue
            if not self._handlers.has_room:
                self._heard_at = time.monotonic()  # the handler is behind: hear the rest later
                continue
            try:
                await self._resubscribe()
            except NATS_ERRORS as exc:
                log.debug("bus listener on %s: not yet resubscribed: %s", self._subjects, exc)

    async def _stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self._drop(self._subscription, self._consumer)
        self._subscription = self._consumer = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._client.call(self._stop, timeout_s=3.0)
        except Unavailable:
            log.debug("closing a bus listener on %s", self._subjects, exc_info=True)
        self._handlers.close()
        if self._forget is not None:
            with contextlib.suppress(ValueError):
                self._forget(self)


def filters(subjects: Sequence[str]) -> dict[str, Any]:
    """A consumer's subject filter: one subject as `filter_subject`, which every JetStream
    server honours; several as `filter_subjects`, which a server before 2.10 ignores (it
    would deliver the whole stream)."""
    if len(subjects) == 1:
        return {"filter_subject": subjects[0]}
    return {"filter_subjects": list(subjects)}
