"""The data folder is its owner's alone: the folder 0700 and everything created in it 0600
(database, WAL, SHM, keys, blobs, footage segments, exports), whatever the shell's umask.

A process that opens a data folder sets its umask to 077 (`PRIVATE_UMASK`), so that every
file and folder it creates, by citywatch's code or by SQLite and PyAV, is its owner's only;
the stores that write files say so again at creation (0600, 0700) where they open them.
A data folder found open to others (an older citywatch, a copy, a careless chmod) is
tightened, all of it, once, with a log line per entry."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from citywatch.domain.errors import Unavailable

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_private(data_dir: Path) -> list[Path]:
    """Set this process's umask to 077, create `data_dir` (0700) if missing, and tighten it if
    anyone but its owner can reach it: then every entry under it too (0700 folders, 0600
    files). Returns the entries tightened."""
    os.umask(PRIVATE_UMASK)
    try:
        data_dir.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        if not _loose(data_dir):
            return []  # nobody else can enter it: what lies under it is out of their reach
        tightened = [p for p in [data_dir, *_tree(data_dir)] if _tighten(p)]
    except OSError as exc:
        raise Unavailable(
            f"{data_dir}: cannot make the data folder private ({exc.strerror or exc})"
        ) from None
    return tightened


def _tree(root: Path) -> list[Path]:
    entries: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        entries += [Path(folder, name) for name in (*dirs, *files)]
    return entries


def _loose(path: Path) -> bool:
    return bool(path.lstat().st_mode & 0o077)


def _tighten(path: Path) -> bool:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
        return False
    mode = FOLDER_MODE if stat.S_ISDIR(info.st_mode) else FILE_MODE
    path.chmod(mode)
    log.warning(
        "%s: tightened to %o (was %o): the data folder is its owner's alone",
        path,
        mode,
        stat.S_IMODE(info.st_mode),
    )
    return True
