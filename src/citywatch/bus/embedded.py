"""The event bus in process, in memory: one process tree on one machine (the default, `bus: ""`).

The same contract as JetStream's: a log of messages with sequence numbers, kept for
`max_age_s` and within `max_bytes`; a duplicate window over message ids; durable consumers
(a cursor, and the messages in flight with the time each is due again) shared by every handle
opened under one name; listeners, each a thread reading the log from where it subscribed.
Nothing survives the process: a message is "durable" here once it is in the log.

When the log is full, the oldest message goes only if every durable consumer is past it;
otherwise publish raises `Unavailable` (a message nobody has consumed is never dropped to
make room). One lock (a condition) guards it all; handlers run outside it.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from citywatch.bus.handlers import call_handler
from citywatch.domain.bus import (
    DUPLICATE_WINDOW_S,
    BusMessage,
    ConsumerLag,
    Outgoing,
    check_message,
    check_subject,
    subject_matches,
)
from citywatch.domain.errors import InvalidInput, Unavailable

_LISTEN_BATCH = 256


@dataclass(frozen=True, slots=True)
class _Stored:
    seq: int
    subject: str
    payload: bytes
    msg_id: str
    headers: Mapping[str, str]
    at: float

    @property
    def size(self) -> int:
        return len(self.payload) + len(self.subject) + 64


def _matches(patterns: Sequence[str], subject: str) -> bool:
    return any(subject_matches(pattern, subject) for pattern in patterns)


@dataclass(slots=True)
class _InFlight:
    deliveries: int
    due: float


@dataclass(slots=True)
class _Durable:
    """One durable consumer's state: where it is in the log and what it has out."""

    name: str
    subjects: tuple[str, ...]
    ack_wait_s: float
    max_deliver: int | None
    cursor: int
    in_flight: dict[int, _InFlight] = field(default_factory=dict)

    def floor(self) -> int:
        """The lowest sequence this consumer may still need."""
        return min([self.cursor, *self.in_flight])

    def next_due(self) -> float | None:
        return min((flight.due for flight in self.in_flight.values()), default=None)

    def take(
        self, log: Mapping[int, _Stored], last_seq: int, limit: int, now: float
    ) -> list[tuple[_Stored, int]]:
        """Messages due again first (by sequence), then new ones, up to `limit`, each with its
        count of deliveries."""
        taken: list[tuple[_Stored, int]] = []
        for seq in sorted(seq for seq, flight in self.in_flight.items() if flight.due <= now):
            if len(taken) >= limit:
                return taken
            flight, stored = self.in_flight[seq], log.get(seq)
            if stored is None or (self.max_deliver is not None and flight.deliveries >= self.max_deliver):
                del self.in_flight[seq]  # gone from the log, or delivered as often as allowed
                continue
            flight.deliveries += 1
            flight.due = now + self.ack_wait_s
            taken.append((stored, flight.deliveries))
        while len(taken) < limit and self.cursor <= last_seq:
            stored = log.get(self.cursor)
            self.cursor += 1
            if stored is not None and _matches(self.subjects, stored.subject):
                self.in_flight[stored.seq] = _InFlight(1, now + self.ack_wait_s)
                taken.append((stored, 1))
        return taken


class _EmbeddedMessage:
    """A delivered message; settling it changes its durable's state under the bus's lock."""

    __slots__ = ("_settle_with", "_stored", "deliveries")

    def __init__(
        self, stored: _Stored, deliveries: int, settle: Callable[[int, float | None], None] | None
    ) -> None:
        self._stored = stored
        self.deliveries = deliveries
        self._settle_with = settle

    @property
    def subject(self) -> str:
        return self._stored.subject

    @property
    def payload(self) -> bytes:
        return self._stored.payload

    @property
    def msg_id(self) -> str:
        return self._stored.msg_id

    @property
    def headers(self) -> Mapping[str, str]:
        return self._stored.headers

    def ack(self) -> None:
        self._settle(None)

    def term(self) -> None:
        self._settle(None)

    def nak(self, delay_s: float = 0.0) -> None:
        self._settle(max(0.0, delay_s))

    def _settle(self, again_in_s: float | None) -> None:
        if self._settle_with is not None:  # a listener's message has nothing to settle
            self._settle_with(self._stored.seq, again_in_s)


class EmbeddedBus:
    """The event bus of one process tree (`citywatch.domain.bus.EventBus`)."""

    def __init__(
        self,
        *,
        duplicate_window_s: float = DUPLICATE_WINDOW_S,
        max_age_s: float = 24 * 3600.0,
        max_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self.duplicate_window_s = duplicate_window_s
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self._lock = threading.Condition()
        self._log: dict[int, _Stored] = {}
        self._first_seq = 1
        self._last_seq = 0
        self._bytes = 0
        self._recent_ids: dict[str, float] = {}
        self._durables: dict[str, _Durable] = {}
        self._listeners: list[_Listener] = []
        self._closed = False

    # publishing

    def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.publish_many([Outgoing(subject, payload, msg_id, headers or {})])

    def publish_many(self, messages: Sequence[Outgoing]) -> None:
        checked = [
            (message, check_message(message.subject, message.msg_id, message.headers)) for message in messages
        ]
        with self._lock:
            self._check_open()
            now = time.monotonic()
            self._expire(now)
            for message, headers in checked:
                if message.msg_id in self._recent_ids:
                    continue  # a retry within the duplicate window: already stored
                stored = _Stored(
                    self._last_seq + 1, message.subject, bytes(message.payload), message.msg_id, headers, now
                )
                self._make_room(stored.size)
                self._log[stored.seq] = stored
                self._last_seq = stored.seq
                self._bytes += stored.size
                self._recent_ids[message.msg_id] = now
            self._lock.notify_all()

    def _make_room(self, size: int) -> None:
        if size > self.max_bytes:
            raise InvalidInput(f"a bus message of {size} bytes is over the bus's {self.max_bytes}")
        floor = min((durable.floor() for durable in self._durables.values()), default=self._last_seq + 1)
        while self._bytes + size > self.max_bytes:
            if self._first_seq >= floor:
                raise Unavailable(
                    f"the in-process bus is full ({self._bytes} bytes) of messages not yet consumed"
                )
            self._drop_first()

    def _drop_first(self) -> None:
        stored = self._log.pop(self._first_seq, None)
        if stored is not None:
            self._bytes -= stored.size
        self._first_seq += 1

    def _expire(self, now: float) -> None:
        """Drop what is older than `max_age_s` and forget ids older than the duplicate window."""
        while self._first_seq <= self._last_seq and self._log[self._first_seq].at < now - self.max_age_s:
            self._drop_first()
        forget = [
            key
            for key, at in itertools.takewhile(
                lambda item: item[1] < now - self.duplicate_window_s, self._recent_ids.items()
            )
        ]
        for key in forget:
            del self._recent_ids[key]

    # consuming

    def consumer(
        self,
        durable: str,
        subjects: Sequence[str],
        *,
        ack_wait_s: float = 30.0,
        max_deliver: int | None = None,
    ) -> EmbeddedConsumer:
        patterns = tuple(check_subject(subject, pattern=True) for subject in subjects)
        if not patterns or not durable.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput(
                f"a consumer needs subjects and a name of letters, digits, - and _: {durable!r}"
            )
        if ack_wait_s <= 0 or (max_deliver is not None and max_deliver < 1):
            raise InvalidInput("a consumer's ack wait must be positive and its max deliver at least 1")
        with self._lock:
            self._check_open()
            state = self._durables.get(durable)
            if state is None:
                state = self._durables[durable] = _Durable(
                    durable, patterns, ack_wait_s, max_deliver, cursor=self._first_seq
                )
            state.subjects, state.ack_wait_s, state.max_deliver = patterns, ack_wait_s, max_deliver
        return EmbeddedConsumer(self, state)

    def fetch(self, durable: _Durable, max_messages: int, timeout_s: float) -> list[BusMessage]:
        if max_messages < 1:
            raise InvalidInput("fetch at least one message")
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._lock:
            while True:
                self._check_open()
                now = time.monotonic()
                self._expire(now)
                taken = durable.take(self._log, self._last_seq, max_messages, now)
                if taken or now >= deadline:
                    settle = functools.partial(self.settle, durable)
                    return [_EmbeddedMessage(stored, deliveries, settle) for stored, deliveries in taken]
                due = durable.next_due()
                self._lock.wait(min(deadline, due if due is not None else deadline) - now)

    def settle(self, durable: _Durable, seq: int, again_in_s: float | None) -> None:
        """Ack or term (`again_in_s` None), or nak: due again after `again_in_s`."""
        with self._lock:
            if again_in_s is None:
                durable.in_flight.pop(seq, None)
                return
            flight = durable.in_flight.get(seq)
            if flight is not None:
                flight.due = time.monotonic() + again_in_s
                self._lock.notify_all()

    def lag(self, durable: _Durable) -> ConsumerLag:
        with self._lock:
            pending = sum(
                1
                for seq in range(max(durable.cursor, self._first_seq), self._last_seq + 1)
                if seq in self._log and _matches(durable.subjects, self._log[seq].subject)
            )
            return ConsumerLag(pending=pending, in_flight=len(durable.in_flight))

    # listening

    def listen(self, subjects: Sequence[str], handler: Callable[[BusMessage], None]) -> _Listener:
        patterns = tuple(check_subject(subject, pattern=True) for subject in subjects)
        if not patterns:
            raise InvalidInput("a listener needs subjects")
        with self._lock:
            self._check_open()
            listener = _Listener(self, patterns, handler, cursor=self._last_seq + 1)
            self._listeners.append(listener)
        listener.start()
        return listener

    def next_for(self, listener: _Listener) -> list[BusMessage] | None:
        """The listener's next messages (waiting for some); None once it or the bus is closed."""
        with self._lock:
            while not (self._closed or listener.closed) and listener.cursor > self._last_seq:
                self._lock.wait()
            if self._closed or listener.closed:
                return None
            listener.cursor = max(listener.cursor, self._first_seq)
            found: list[BusMessage] = []
            while listener.cursor <= self._last_seq and len(found) < _LISTEN_BATCH:
                stored = self._log.get(listener.cursor)
                listener.cursor += 1
                if stored is not None and _matches(listener.subjects, stored.subject):
                    found.append(_EmbeddedMessage(stored, 1, None))
            return found

    def unlisten(self, listener: _Listener) -> None:
        with self._lock:
            listener.closed = True
            if listener in self._listeners:
                self._listeners.remove(listener)
            self._lock.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("the in-process bus is closed")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            listeners = list(self._listeners)
            self._lock.notify_all()
        for listener in listeners:
            listener.close()


class EmbeddedConsumer:
    """A handle on a durable of the in-process bus (`citywatch.domain.bus.Consumer`)."""

    def __init__(self, bus: EmbeddedBus, state: _Durable) -> None:
        self._bus = bus
        self._state = state
        self._closed = False

    @property
    def durable(self) -> str:
        return self._state.name

    def fetch(self, max_messages: int = 100, timeout_s: float = 1.0) -> list[BusMessage]:
        if self._closed:
            raise Unavailable(f"the consumer {self.durable} is closed here")
        return self._bus.fetch(self._state, max_messages, timeout_s)

    def lag(self) -> ConsumerLag:
        return self._bus.lag(self._state)

    def close(self) -> None:
        self._closed = True


class _Listener:
    """A thread that hands every message after its cursor, on its subjects, to the handler."""

    def __init__(
        self,
        bus: EmbeddedBus,
        subjects: tuple[str, ...],
        handler: Callable[[BusMessage], None],
        *,
        cursor: int,
    ) -> None:
        self._bus = bus
        self.subjects = subjects
        self._handler = handler
        self.cursor = cursor
        self.closed = False
        self._thread = threading.Thread(target=self._run, name=f"bus-listen-{subjects[0]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while (messages := self._bus.next_for(self)) is not None:
            for message in messages:
                if self.closed:
                    return
                call_handler(self._handler, message)

    def close(self) -> None:
        self._bus.unlisten(self)
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(5.0)
