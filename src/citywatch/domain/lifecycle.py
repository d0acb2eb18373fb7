"""What a long-running part of citywatch (a camera worker, a scheduled job, alert delivery)
tells its supervisor about itself."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Death:
    """Why a child ended without being asked to."""

    reason: str
    permanent: bool = False
    """True: restarting cannot help (media that can never be read, a bad setting)."""


class Child(Protocol):
    """Something a supervisor runs: started once, stopped once, and done when its threads
    have ended; `death` says why it ended unasked (None: it finished its work, or was stopped)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout_s: float | None = None) -> bool: ...

    @property
    def done(self) -> bool: ...

    @property
    def death(self) -> Death | None: ...


class ThreadChild:
    """The start, join and done of a child whose work is one thread of its own (`_thread`);
    the child says how it stops and why it died."""

    _thread: threading.Thread

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float | None = None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive() and self._thread.ident is not None
