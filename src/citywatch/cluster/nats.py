"""One connection to NATS per process, for citywatch's threads.

nats-py is asyncio; citywatch's pipeline, stores and supervisor are threads. `NatsClient`
runs the client on an event loop in a thread of its own and hands the threads a blocking
`call`: the coroutine runs on that loop and its result (or its exception) comes back, within
a timeout. The client reconnects by itself, without limit; while it is away a call fails
with `Unavailable` after its timeout instead of hanging.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError

from citywatch.domain.errors import Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 5.0
NATS_ERRORS: tuple[type[BaseException], ...] = (NatsError, JetStreamError, asyncio.TimeoutError, OSError)
"""What a call to NATS raises when the server is away, slow or refuses: `call` turns them
into `Unavailable`, except where the caller asks for them (`raw=True`)."""


class NatsClient:
    """A connected client on its own event loop thread; `close` ends both."""

    def __init__(self, url: str, *, name: str = "citywatch", connect_timeout_s: float = 5.0) -> None:
        self.url = url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name=f"nats-{name}", daemon=True)
        self._thread.start()
        self._closed = False
        try:
            self._client: Client = self._submit(
                self._connect(name, connect_timeout_s), connect_timeout_s + 1.0
            )
        except Unavailable as exc:
            self._stop_loop()
            raise Unavailable(
                f"cannot connect to NATS at {url} within {connect_timeout_s:.0f} s: is the server "
                "running, and is the `bus` setting right?"
            ) from exc
        except BaseException:
            self._stop_loop()
            raise
        self.jetstream: JetStreamContext = self._client.jetstream()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _connect(self, name: str, timeout_s: float) -> Client:
        async def disconnected() -> None:
            if not self._closed:  # closing disconnects too: nothing to warn about
                log.warning("NATS %s: disconnected; reconnecting", self.url)

        async def reconnected() -> None:
            log.info("NATS %s: reconnected", self.url)

        async def error(exc: Exception) -> None:
            log.debug("NATS %s: %s", self.url, exc)

        try:
            return await nats.connect(
                servers=[server.strip() for server in self.url.split(",") if server.strip()],
                name=name,
                connect_timeout=timeout_s,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
            )
        except NATS_ERRORS as exc:
            raise Unavailable(
                f"cannot connect to NATS at {self.url}: {str(exc) or type(exc).__name__}"
            ) from exc

    @property
    def client(self) -> Client:
        return self._client

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def call(
        self, make: Callable[[], Awaitable[T]], *, timeout_s: float = DEFAULT_TIMEOUT_S, raw: bool = False
    ) -> T:
        """Run `make()` on the client's loop and wait for it; NATS errors and timeouts come
        back as `Unavailable` (or as themselves with `raw`)."""
        if self._closed:
            raise Unavailable(f"the NATS client of {self.url} is closed")

        async def run() -> T:
            return await asyncio.wait_for(make(), timeout_s)

        try:
            return self._submit(run(), timeout_s + 1.0)
        except NATS_ERRORS as exc:
            if raw:
                raise
            raise Unavailable(f"NATS at {self.url}: {str(exc) or type(exc).__name__}") from exc

    def spawn(self, coroutine: Awaitable[Any]) -> Future[Any]:
        """Start a long-running coroutine (a subscription's loop) on the client's loop; its
        future may be waited for or cancelled from any thread."""
        return asyncio.run_coroutine_threadsafe(_awaited(coroutine), self._loop)

    def _submit(self, coroutine: Awaitable[T], timeout_s: float) -> T:
        future = asyncio.run_coroutine_threadsafe(_awaited(coroutine), self._loop)
        try:
            return future.result(timeout_s)
        except FutureTimeout as exc:
            if future.done():  # the coroutine's own timeout (asyncio's is the same class): its own
                raise
            future.cancel()
            raise Unavailable(f"NATS at {self.url} did not answer within {timeout_s:.1f} s") from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._submit(self._client.close(), 5.0)
        except Exception:  # closing: nothing left to tell the caller
            log.debug("closing the NATS client of %s", self.url, exc_info=True)
        self._stop_loop()

    def _stop_loop(self) -> None:
        """Cancel what still runs on the loop (the subscriptions' readers), then stop and close
        it: a task left pending would be destroyed with the loop, raising into whatever code
        the garbage collector interrupts."""
        if self._thread.is_alive():
            try:
                self._submit(_cancel_the_rest(), 5.0)
            except Exception:  # closing: nothing left to tell the caller
                log.debug("cancelling the tasks of the NATS client of %s", self.url, exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self._loop.close()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


async def _cancel_the_rest() -> None:
    """Cancel every other task on this loop and wait until they have ended."""
    rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)
