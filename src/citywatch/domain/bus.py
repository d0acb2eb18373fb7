"""The event bus between citywatch's processes, as protocols: durable publish, work-queue
consumers (at least once) and fan-out listeners (every listener gets every message).

Pure: the words and the subject rules only. The adapters live in `citywatch.bus` (in
process, and NATS JetStream). Payloads are bytes; the callers encode them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from citywatch.domain.errors import InvalidInput

SUBJECT_ROOT = "citywatch"
"""Every subject on the bus starts with this token (the stream holds `citywatch.>`)."""

DUPLICATE_WINDOW_S = 120.0
"""How long a message id is remembered: a publish retried within it is dropped as a duplicate."""

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_MSG_ID = re.compile(r"^[\x21-\x7e]{1,200}$")
RESERVED_HEADER_PREFIX = "nats-"
"""Header names the bus keeps for itself (`Nats-Msg-Id` and the server's own)."""


class BusMessage(Protocol):
    """One message as a consumer or a listener receives it.

    A consumer's message must be settled once: `ack` (done: never delivered again), `nak`
    (deliver it again, after `delay_s`) or `term` (never again, not done). An unsettled one is
    delivered again after the consumer's ack wait. A listener's messages need no settling:
    there the three are no-ops.
    """

    @property
    def subject(self) -> str: ...

    @property
    def payload(self) -> bytes: ...

    @property
    def msg_id(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def deliveries(self) -> int:
        """How many times this message has been delivered to its consumer, this time included."""
        ...

    def ack(self) -> None: ...

    def nak(self, delay_s: float = 0.0) -> None: ...

    def term(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to publish (`EventBus.publish_many`)."""

    subject: str
    payload: bytes
    msg_id: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConsumerLag:
    """How far a durable consumer is behind (the bus lag of the metrics)."""

    pending: int
    """Published messages for its subjects not yet delivered."""
    in_flight: int
    """Delivered, not yet acknowledged (nor terminated)."""

    @property
    def total(self) -> int:
        return self.pending + self.in_flight


class Consumer(Protocol):
    """A handle on a durable work queue: every process that opens the same durable name shares
    its messages; each is delivered to one of them at a time, at least once."""

    @property
    def durable(self) -> str: ...

    def fetch(self, max_messages: int = 100, timeout_s: float = 1.0) -> list[BusMessage]:
        """Up to `max_messages`, as soon as there are any; [] when none came within `timeout_s`.
        Raises `Unavailable` when the bus could not be reached in that time."""
        ...

    def lag(self) -> ConsumerLag: ...

    def close(self) -> None:
        """Stop using the consumer here; the durable and its unacknowledged messages stay."""
        ...


class Subscription(Protocol):
    """A listener's subscription; `close` stops the deliveries (after the current handler)."""

    def close(self) -> None: ...


class EventBus(Protocol):
    """Durable publish, work-queue consumers and fan-out listeners over subjects under
    `citywatch.` (tokens separated by dots; `*` one token, `>` the rest, in patterns)."""

    def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> None:
        """Return once the message is durable. Raises `Unavailable` (within the bus's publish
        timeout) when it cannot be made so: the caller retries with the same `msg_id`. A message
        whose `msg_id` was published within the duplicate window is dropped, not an error."""
        ...

    def publish_many(self, messages: Sequence[Outgoing]) -> None:
        """`publish` for several at once, faster: returns once every one is durable, raises
        `Unavailable` when any is not (retrying them all is safe: the ids de-duplicate)."""
        ...

    def consumer(
        self,
        durable: str,
        subjects: Sequence[str],
        *,
        ack_wait_s: float = 30.0,
        max_deliver: int | None = None,
    ) -> Consumer:
        """The durable work queue `durable` over `subjects` (created, or updated to these
        settings). A new durable starts at the oldest message the bus still keeps. After
        `max_deliver` deliveries a message is not delivered again (None: no limit)."""
        ...

    def listen(self, subjects: Sequence[str], handler: Callable[[BusMessage], None]) -> Subscription:
        """Call `handler` (on a thread of the subscription's own, in publish order) with every
        message published to `subjects` from now on. Every listener gets every message."""
        ...

    def close(self) -> None: ...


def check_subject(subject: str, *, pattern: bool = False) -> str:
    """`subject` when it is one under `citywatch.` (a pattern may use `*` and a final `>`);
    `InvalidInput` otherwise."""
    parts = subject.split(".")
    if len(parts) < 2 or parts[0] != SUBJECT_ROOT:  # the root and at least one more
        raise InvalidInput(f"bus subject {subject!r} is not under {SUBJECT_ROOT}.")
    for position, part in enumerate(parts[1:], start=1):
        wildcard = pattern and (part == "*" or (part == ">" and position == len(parts) - 1))
        if not wildcard and not _TOKEN.match(part):
            raise InvalidInput(f"bus subject {subject!r}: bad token {part!r}")
    return subject


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether `subject` falls under `pattern` (NATS rules: `*` is one token, `>` one or more)."""
    wanted, parts = pattern.split("."), subject.split(".")
    for position, part in enumerate(wanted):
        if part == ">":
            return len(parts) > position
        if position >= len(parts) or part not in ("*", parts[position]):
            return False
    return len(parts) == len(wanted)


def check_message(subject: str, msg_id: str, headers: Mapping[str, str] | None) -> dict[str, str]:
    """Checks a message before it is published; its headers, copied. `InvalidInput` for a
    subject outside the bus, an empty or odd id, or a header the bus keeps or cannot carry."""
    check_subject(subject)
    if not _MSG_ID.match(msg_id):
        raise InvalidInput(f"bus message id {msg_id!r}: 1 to 200 printable characters, no spaces")
    copied: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not _HEADER_NAME.match(name) or name.lower().startswith(RESERVED_HEADER_PREFIX):
            raise InvalidInput(f"bus header {name!r}: a token, not starting with Nats-")
        if "\r" in value or "\n" in value:
            raise InvalidInput(f"bus header {name!r}: its value holds a line break")
        copied[name] = value
    return copied
