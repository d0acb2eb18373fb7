"""Work `citywatch run` does on a schedule beside the cameras: the retention purge, the end
of orders whose window has passed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from citywatch.domain.errors import CitywatchError
from citywatch.domain.lifecycle import Death

log = logging.getLogger(__name__)


class Scheduled:
    """Runs `job` at start and then every `every_s` seconds in a daemon thread until stopped;
    a failure is logged and retried at the next tick, never fatal to the cameras. An error that
    is not citywatch's own (a bug) ends the thread, with why (`death`), for the supervisor to
    restart it."""

    def __init__(self, name: str, job: Callable[[], object], every_s: float) -> None:
        self._name = name
        self._job = job
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._death: Death | None = None
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def join(self, timeout_s: float | None = None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def done(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    @property
    def death(self) -> Death | None:
        return self._death

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._job()
                self.runs += 1
            except CitywatchError as exc:
                self.failures += 1
                log.error("%s failed (%s); retrying in %.0f s", self._name, exc, self._every_s)
            except Exception as exc:
                self._death = Death(f"{self._name} crashed: {type(exc).__name__}: {exc}")
                log.exception("%s crashed", self._name)
                return
            self._stop.wait(self._every_s)
