"""Calling a listener's handler: on a thread of the listener's own, never on the bus's, and
a failing handler never ends its listener."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable

from citywatch.domain.bus import BusMessage

log = logging.getLogger(__name__)


def call_handler(handler: Callable[[BusMessage], None], message: BusMessage) -> None:
    """The handler, its failure logged: the next message still comes."""
    try:
        handler(message)
    except Exception:  # a handler's bug is its own
        log.exception("bus listener on %s failed", message.subject)


class HandlerThread:
    """A bounded queue of messages and the thread that hands them, in order, to the handler."""

    def __init__(self, handler: Callable[[BusMessage], None], *, name: str, capacity: int = 10_000) -> None:
        self._handler = handler
        self._queue: queue.Queue[BusMessage | None] = queue.Queue(capacity)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def has_room(self) -> bool:
        """Whether at most half the queue is taken (room to hear the rest again)."""
        return self._queue.qsize() <= self._queue.maxsize // 2

    def offer(self, message: BusMessage) -> bool:
        """Queue the message; False (not queued) when the queue is full or closed."""
        if self._closed:
            return False
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            return False
        return True

    def _run(self) -> None:
        while (message := self._queue.get()) is not None:
            if self._closed:
                return
            call_handler(self._handler, message)

    def close(self) -> None:
        """Stop after the current handler; what is still queued is not handed over."""
        self._closed = True
        while True:
            try:
                self._queue.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
        if threading.current_thread() is not self._thread:
            self._thread.join(5.0)
