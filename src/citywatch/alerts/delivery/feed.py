"""The live alert feed: each new alert handed, in process, to every subscriber that may see it,
once the alert's transaction has committed (an alert rolled back is never published).

Publishers are camera threads (through the store's alert hook); subscribers read from a
thread (`get`) or from asyncio (`next`), each from its own bounded queue. A subscriber that
falls behind is dropped with a log line instead of growing memory: a live-feed client then
reconnects and replays what it missed from the store (`Last-Event-ID`). The feed is a
notification path, not the record: the alerts table is, and the outbox delivers to sinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction

from citywatch.alerts.delivery.message import AlertMessage, message_of
from citywatch.store.sighting_tables import Alert

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 256
_STAGED = "citywatch.alert_feed.staged"
"""Key in `Session.info`: the alerts of the session's transaction, published on commit."""
_LISTENING = "citywatch.alert_feed.listening"

Accepts = Callable[[AlertMessage], bool]
"""Which alerts a subscriber may receive (its access scope); called on the publisher's thread."""


class FeedClosed(Exception):
    """The subscription ended: dropped for falling behind, or the feed was closed."""


def _everything(_message: AlertMessage) -> bool:
    return True


class Subscription:
    """One subscriber's bounded queue. Obtained from `AlertFeed.subscribe`; thread-safe."""

    def __init__(self, name: str, capacity: int, accepts: Accepts) -> None:
        self.name = name
        self._capacity = capacity
        self._accepts = accepts
        self._items: deque[AlertMessage] = deque()
        self._cond = threading.Condition()
        self._closed: str | None = None
        self._wake_loop: Callable[[], None] | None = None
        self._event: asyncio.Event | None = None

    @property
    def closed(self) -> str | None:
        """Why the subscription ended (None while it is open)."""
        with self._cond:
            return self._closed

    def get(self, timeout_s: float | None = None) -> AlertMessage | None:
        """The next alert, waiting up to `timeout_s` (None: no alert came in time).
        Raises FeedClosed once the subscription has ended."""
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._closed is not None, timeout_s)
            return self._take()

    async def next(self, timeout_s: float | None = None) -> AlertMessage | None:
        """`get` for asyncio: waits without blocking the event loop or holding a thread."""
        if self._event is None:
            self._bind(asyncio.get_running_loop())
        ready = self._event
        if ready is None:  # bound just above; for the type checker
            raise RuntimeError("subscription not bound to an event loop")
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while True:
            # Cleared before looking: a publish after the look sets it again (through the
            # loop). A wake-up can be stale (its alert already taken by an earlier look), so
            # look again until an alert is there or the time is up.
            ready.clear()
            with self._cond:
                message = self._take()
            if message is not None:
                return message
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), remaining)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        ready = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
                loop.call_soon_threadsafe(ready.set)

        with self._cond:
            self._event = ready
            self._wake_loop = wake

    def _take(self) -> AlertMessage | None:
        if self._closed is not None:
            raise FeedClosed(self._closed)
        return self._items.popleft() if self._items else None

    def _offer(self, message: AlertMessage) -> bool:
        """Queue `message` if the subscriber may see it; False when the queue is full."""
        if not self._accepts(message):
            return True
        with self._cond:
            if self._closed is not None:
                return True
            if len(self._items) >= self._capacity:
                return False
            self._items.append(message)
            self._cond.notify_all()
            wake = self._wake_loop
        if wake is not None:
            wake()
        return True

    def _close(self, reason: str) -> None:
        with self._cond:
            if self._closed is not None:
                return
            self._closed = reason
            self._items.clear()
            self._cond.notify_all()
            wake = self._wake_loop
        if wake is not None:
            wake()


@dataclass
class FeedCounts:
    published: int = 0
    """Alerts published (each counted once, whoever received it)."""
    dropped_subscribers: int = 0
    """Subscribers dropped for falling behind."""
    errors: int = 0
    """Subscribers whose scope check raised (the alert was not given to them)."""
    subscribers: dict[int, str] = field(default_factory=dict)


class AlertFeed:
    """Fans committed alerts out to subscribers. `stage` is the store's alert hook."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY, base_url: str = "") -> None:
        if capacity < 1:
            raise ValueError("an alert feed queue holds at least one alert")
        self._capacity = capacity
        self._base_url = base_url
        self._lock = threading.Lock()
        self._subscribers: dict[int, Subscription] = {}
        self._ids = itertools.count(1)
        self._closed: str | None = None
        self._counts = FeedCounts()

    def subscribe(self, accepts: Accepts = _everything, *, name: str = "subscriber") -> Subscription:
        """A new subscription receiving the alerts `accepts` lets through, from now on."""
        with self._lock:
            number = next(self._ids)
            sub = Subscription(f"{name}#{number}", self._capacity, accepts)
            if self._closed is not None:
                sub._close(self._closed)
            else:
                self._subscribers[number] = sub
            return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            for number, known in list(self._subscribers.items()):
                if known is sub:
                    del self._subscribers[number]
        sub._close("unsubscribed")

    def counts(self) -> FeedCounts:
        with self._lock:
            c = self._counts
            names = {n: s.name for n, s in self._subscribers.items()}
            return FeedCounts(c.published, c.dropped_subscribers, c.errors, names)

    def publish(self, message: AlertMessage) -> None:
        """Hand `message` to every subscriber now (any thread). Never raises: it runs after the
        alert's commit, where a failure must not look like a lost sighting."""
        with self._lock:
            self._counts.published += 1
            subscribers = list(self._subscribers.items())
        for number, sub in subscribers:
            try:
                kept = sub._offer(message)
            except Exception:
                log.exception("alert feed: cannot offer alert %d to %s", message.id, sub.name)
                with self._lock:
                    self._counts.errors += 1
                continue
            if not kept:
                self._drop(number, sub)

    def stage(self, session: Session, alert: Alert) -> None:
        """Publish `alert` once `session` commits; nothing when its transaction rolls back.
        (The alert raising stage's hook, called inside the alert's transaction after its insert.)"""
        staged: list[tuple[Alert, AlertMessage]] = session.info.setdefault(_STAGED, [])
        staged.append((alert, message_of(alert, self._base_url)))
        if not session.info.get(_LISTENING):
            session.info[_LISTENING] = True
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_transaction_end", self._after_transaction_end)

    def close(self, reason: str = "the alert feed is closing") -> None:
        """End every subscription (their readers get FeedClosed) and refuse new ones."""
        with self._lock:
            self._closed = reason
            subscribers = list(self._subscribers.values())
            self._subscribers.clear()
        for sub in subscribers:
            sub._close(reason)

    def _after_commit(self, session: Session) -> None:
        for alert, message in session.info.pop(_STAGED, []):
            # an alert inserted in a savepoint that was rolled back is no longer persistent
            if inspect(alert).persistent:
                self.publish(message)

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # the outermost transaction ended without a commit
            session.info.pop(_STAGED, None)

    def _drop(self, number: int, sub: Subscription) -> None:
        with self._lock:
            if self._subscribers.pop(number, None) is None:
                return
            self._counts.dropped_subscribers += 1
        log.warning(
            "alert feed: dropped %s, which left %d alerts unread (its queue's limit); "
            "it has to reconnect and replay the rest from the store",
            sub.name,
            self._capacity,
        )
        sub._close(f"dropped: fell {self._capacity} alerts behind")
