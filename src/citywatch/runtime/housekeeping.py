"""Work `citywatch run` does on a schedule beside the cameras: the retention purge."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from citywatch.domain.errors import CitywatchError

log = logging.getLogger(__name__)


class Scheduled:
    """Runs `job` at start and then every `every_s` seconds in a daemon thread until stopped;
    a failure is logged and retried at the next tick, never fatal to the cameras."""

    def __init__(self, name: str, job: Callable[[], object], every_s: float) -> None:
        self._name = name
        self._job = job
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._job()
                self.runs += 1
            except CitywatchError as exc:
                self.failures += 1
                log.error("%s failed (%s); retrying in %.0f s", self._name, exc, self._every_s)
            self._stop.wait(self._every_s)
