"""The event bus over NATS JetStream (`bus: nats://host:4222`): a city's processes on many machines.

One stream, `CITYWATCH`, holds every subject under `citywatch.>`; it is created at start, or
updated to the settings below. A publish carries its id in `Nats-Msg-Id` and returns only on
JetStream's acknowledgement (the message is stored, on a quorum of replicas). Consumers are
durable pull consumers with explicit acknowledgement: every process that opens one durable
name shares its messages (a work queue). Listeners (`fanout`) are ephemeral push consumers,
one each, that deliver what is published from the moment they subscribe.

What a deployment's servers and stream need, and why (docs/scale/bus.md says more):

- `jetstream { sync_interval: always }` in every server's configuration. By default
  JetStream writes to the page cache and fsyncs every 2 minutes: a message it acknowledged
  can be lost when every replica loses power in that window. With `always` each write is
  fsynced before the acknowledgement (it costs throughput: `publish_many` batches).
- Stream replicas 3 (`replicas`; 1 here, one server): a publish is acknowledged once a quorum
  (2 of 3) has stored it, so the stream survives the loss of any one server, data included.
- File storage: the stream outlives a restart of the servers (memory storage would not).
- The duplicate window (2 min) against publisher retries: a publish that timed out may still
  have been stored (or may be stored once a buffered request reaches a reconnected server); the
  publisher retries with the same id and JetStream drops the copy. A retry later than the
  window would be stored twice, so retries stop within it, and the consumers are idempotent
  anyway (a unique key per sighting and alert in PostgreSQL).
- Limits retention, `max_age_s` (a day by default) and `max_bytes`, with the discard policy
  "new": when the stream is full a publish fails (`Unavailable`, the worker knows) instead of
  the oldest messages being dropped unseen. The age bounds how long the store consumers may be
  away without loss, and how long a sighting lingers in the bus's files after it is stored:
  keep it shorter than the shortest retention period.
- Consumers: ack wait (how long a consumer may hold a message before it goes to another: longer
  than a batch takes to commit) and max deliver (after that many deliveries a poison message
  stops coming back; None is no limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future

from nats.aio.msg import Msg
from nats.errors import MsgAlreadyAckdError
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from citywatch.bus.fanout import FanOut, filters, headers_of
from citywatch.cluster.nats import NatsClient
from citywatch.domain.bus import (
    DUPLICATE_WINDOW_S,
    SUBJECT_ROOT,
    BusMessage,
    ConsumerLag,
    Outgoing,
    check_message,
    check_subject,
)
from citywatch.domain.errors import InvalidInput, Unavailable

log = logging.getLogger(__name__)

STREAM = "CITYWATCH"
MAX_ACK_PENDING = 20_000
"""Messages a durable may have out unacknowledged, across its processes."""


class JetStreamBus:
    """The event bus over one NATS connection (`citywatch.domain.bus.EventBus`)."""

    def __init__(
        self,
        client: NatsClient,
        *,
        replicas: int = 1,
        max_age_s: float = 24 * 3600.0,
        max_bytes: int | None = None,
        duplicate_window_s: float = DUPLICATE_WINDOW_S,
        publish_timeout_s: float = 5.0,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self.publish_timeout_s = publish_timeout_s
        self._owns_client = owns_client
        self._listeners: list[FanOut] = []
        self.stream_config = StreamConfig(
            name=STREAM,
            subjects=[f"{SUBJECT_ROOT}.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.NEW,
            max_age=max_age_s,
            max_bytes=max_bytes if max_bytes is not None else -1,
            duplicate_window=duplicate_window_s,
            num_replicas=replicas,
        )
        self._client.call(self._ensure_stream, timeout_s=max(10.0, publish_timeout_s))

    async def _ensure_stream(self) -> None:
        """Create the stream, or bring an existing one to these settings."""
        js = self._client.jetstream
        try:
            await js.stream_info(STREAM)
        except NotFoundError:
            await js.add_stream(self.stream_config)
            return
        await js.update_stream(self.stream_config)

    @property
    def client(self) -> NatsClient:
        return self._client

    # publishing

    def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.publish_many([Outgoing(subject, payload, msg_id, headers or {})])

    def publish_many(self, messages: Sequence[Outgoing]) -> None:
        prepared = [
            (
                message,
                {
                    **check_message(message.subject, message.msg_id, message.headers),
                    "Nats-Msg-Id": message.msg_id,
                },
            )
            for message in messages
        ]
        if not prepared:
            return
        js = self._client.jetstream

        async def send_all() -> None:
            if len(prepared) == 1:
                message, headers = prepared[0]
                await js.publish(message.subject, message.payload, stream=STREAM, headers=headers)
                return
            acks = [
                await js.publish_async(message.subject, message.payload, stream=STREAM, headers=headers)
                for message, headers in prepared
            ]
            await asyncio.gather(*acks)

        try:
            self._client.call(send_all, timeout_s=self.publish_timeout_s)
        except Unavailable as exc:
            raise Unavailable(
                f"{len(prepared)} bus message(s) not acknowledged by JetStream "
                f"(retry with the same ids): {exc}"
            ) from exc

    # consuming

    def consumer(
        self,
        durable: str,
        subjects: Sequence[str],
        *,
        ack_wait_s: float = 30.0,
        max_deliver: int | None = None,
    ) -> JetStreamConsumer:
        patterns = [check_subject(subject, pattern=True) for subject in subjects]
        if not patterns or not durable.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput(
                f"a consumer needs subjects and a name of letters, digits, - and _: {durable!r}"
            )
        if ack_wait_s <= 0 or (max_deliver is not None and max_deliver < 1):
            raise InvalidInput("a consumer's ack wait must be positive and its max deliver at least 1")
        config = ConsumerConfig(
            name=durable,
            durable_name=durable,
            **filters(patterns),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait_s,
            max_deliver=max_deliver if max_deliver is not None else -1,
            max_ack_pending=MAX_ACK_PENDING,
        )
        js = self._client.jetstream

        async def bind() -> JetStreamConsumer:
            await js.add_consumer(STREAM, config)
            subscription = await js.pull_subscribe_bind(durable, stream=STREAM)
            return JetStreamConsumer(self._client, durable, subscription)

        return self._client.call(bind, timeout_s=self.publish_timeout_s)

    # listening

    def listen(self, subjects: Sequence[str], handler: Callable[[BusMessage], None]) -> FanOut:
        patterns = tuple(check_subject(subject, pattern=True) for subject in subjects)
        if not patterns:
            raise InvalidInput("a listener needs subjects")
        listener = FanOut(self._client, STREAM, patterns, handler, forget=self._listeners.remove)
        listener.start(timeout_s=self.publish_timeout_s)
        self._listeners.append(listener)
        return listener

    def close(self) -> None:
        for listener in list(self._listeners):
            listener.close()
        if self._owns_client:
            self._client.close()


class JetStreamConsumer:
    """A process's handle on a durable pull consumer (`citywatch.domain.bus.Consumer`)."""

    def __init__(
        self, client: NatsClient, durable: str, subscription: JetStreamContext.PullSubscription
    ) -> None:
        self._client = client
        self._durable = durable
        self._subscription = subscription

    @property
    def durable(self) -> str:
        return self._durable

    def fetch(self, max_messages: int = 100, timeout_s: float = 1.0) -> list[BusMessage]:
        if max_messages < 1 or timeout_s <= 0:
            raise InvalidInput("fetch at least one message, within a positive timeout")
        started = time.monotonic()
        if not _wait_connected(self._client, timeout_s):
            raise Unavailable(f"NATS at {self._client.url} is away: nothing fetched for {self._durable}")
        subscription = self._subscription

        async def pull() -> list[Msg]:
            try:
                pulled: list[Msg] = await subscription.fetch(
                    max_messages, timeout=max(0.01, timeout_s - (time.monotonic() - started))
                )
            except TimeoutError:  # nats-py raises its own and asyncio's: no message came
                return []
            return pulled

        pulled = self._client.call(pull, timeout_s=timeout_s + 2.0)
        if not pulled and not self._client.connected:
            raise Unavailable(f"NATS at {self._client.url} went away while {self._durable} fetched")
        return [PulledMessage(message, self._client) for message in pulled]

    def lag(self) -> ConsumerLag:
        js = self._client.jetstream
        info = self._client.call(lambda: js.consumer_info(STREAM, self._durable))
        return ConsumerLag(pending=int(info.num_pending or 0), in_flight=int(info.num_ack_pending or 0))

    def close(self) -> None:
        subscription = self._subscription
        try:
            self._client.call(subscription.unsubscribe, timeout_s=2.0)
        except Unavailable:
            log.debug("closing the consumer %s", self._durable, exc_info=True)


class PulledMessage:
    """A message of a durable consumer; settling it tells JetStream (`citywatch.domain.bus.BusMessage`).

    The acknowledgement is sent, not confirmed (JetStream's own "ack"): one lost on the way
    only means a redelivery, which the idempotent consumers absorb."""

    __slots__ = ("_client", "_message", "_settled", "deliveries", "headers", "msg_id")

    def __init__(self, message: Msg, client: NatsClient) -> None:
        self._message = message
        self._client = client
        self._settled = False
        self.msg_id, self.headers = headers_of(message)
        self.deliveries = int(message.metadata.num_delivered or 1)

    @property
    def subject(self) -> str:
        return self._message.subject

    @property
    def payload(self) -> bytes:
        return self._message.data

    def ack(self) -> None:
        self._settle(self._message.ack)

    def nak(self, delay_s: float = 0.0) -> None:
        message = self._message
        self._settle(lambda: message.nak(delay=delay_s if delay_s > 0 else None))

    def term(self) -> None:
        self._settle(self._message.term)

    def _settle(self, make: Callable[[], Awaitable[None]]) -> None:
        """Queue the settlement on the client's loop, ahead of anything this process asks
        after it (a next fetch), without waiting for it: it is not confirmed on the wire anyway."""
        if self._settled:
            return
        self._settled = True
        future = asyncio.run_coroutine_threadsafe(_settled(make), self._client.loop)
        future.add_done_callback(_log_failure)


async def _settled(make: Callable[[], Awaitable[None]]) -> None:
    with contextlib.suppress(MsgAlreadyAckdError):
        await make()


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("a bus message was not settled (it will be delivered again): %s", future.exception())


def _wait_connected(client: NatsClient, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not client.connected:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
