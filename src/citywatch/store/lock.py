"""One process owns a data folder at a time: `citywatch run` and `citywatch watch` (what
records footage and ingests frames) hold an exclusive lock on `<data_dir>/citywatch.lock` for
their whole life; a second one is refused, told who holds it (pid, command, since), and stops.

The lock is the operating system's (`fcntl.flock`): it goes with the process that holds it,
however that process ends (a crash or SIGKILL leaves no stale lock behind); the file's text
only says who holds it. Short commands (`alerts list`, `changes approve`, …) take no lock:
they read and write through SQLite's own locking beside the owner."""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from citywatch.domain.errors import Conflict, Unavailable

LOCK_FILE = "citywatch.lock"


class DataFolderLock:
    """`with DataFolderLock(data_dir, command):` owns `data_dir` for the block, or raises
    Conflict naming the process that owns it."""

    def __init__(self, data_dir: Path, command: str) -> None:
        self.path = data_dir / LOCK_FILE
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise Unavailable(
                f"{self.path}: cannot open the data folder's lock ({exc.strerror or exc})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise Conflict(
                f"the data folder {self.path.parent} is in use by {holder or 'another process'}; "
                "one process records into a data folder at a time: stop that one first, or give this "
                "one another data folder"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise Unavailable(f"{self.path}: cannot lock the data folder ({exc.strerror or exc})") from None
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} (`{self.command}`, since {since})\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # nobody holds it now; the file stays (another may be waiting on it)
        finally:
            os.close(fd)  # closing releases the lock

    def __enter__(self) -> DataFolderLock:
        self.acquire()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.release()


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 500, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
