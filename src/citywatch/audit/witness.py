"""The audit witness: an append-only file of signed chain heads kept outside the database.

One line per commit that appended audit records (`citywatch.audit.chain.SignedHead` as
canonical JSON). Writers append under an exclusive `flock` with `O_APPEND`, one `write`
per line, so threads and processes sharing a data folder never interleave; readers take a
shared lock. With `fsync` on, each line is on disk before the committing call returns.
Losing the newest lines (a crash between the database commit and the line, `fsync` off)
only leaves records newer than the witness, which verify reports as a note; a head is never
written before its records are committed, so the witness never runs ahead of an honest log.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from citywatch.audit.chain import SignedHead, WitnessLine, WitnessRead, head_json, parse_head


class WitnessFile:
    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self._path = path
        self._fsync = fsync
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    def append(self, head: SignedHead) -> None:
        """Append one signed head. Raises OSError when the file cannot be written."""
        line = (head_json(head) + "\n").encode()
        with self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view) :]
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)  # releases the lock

    def read(self) -> WitnessRead:
        """Every line, parsed; `lines` None when there is no file."""
        return read_witness(self._path)


def read_witness(path: Path) -> WitnessRead:
    """The heads in the witness file at `path` (the configured one, or a copy shipped
    elsewhere and brought back). Raises OSError when it exists but cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return WitnessRead(str(path), None)
    with os.fdopen(fd, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        data = f.read()
    lines: list[WitnessLine] = []
    unreadable: list[int] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        head = parse_head(raw.decode("utf-8", errors="replace"))
        if head is None:
            unreadable.append(number)
        else:
            lines.append(WitnessLine(number, head))
    return WitnessRead(str(path), tuple(lines), tuple(unreadable))
