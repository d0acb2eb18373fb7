"""A folder of still images as a frame source: every image one frame, bad files skipped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import NoReturn

from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import CorruptMedia, InvalidInput, NotFound, SourceUnavailable
from citywatch.domain.frames import Frame
from citywatch.domain.ports import SourceHealth, SourceState
from citywatch.ingest._common import add_warning
from citywatch.media.images import read_image

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})

NOMINAL_INTERVAL_S = 1.0
"""Stills have no timeline; the n-th image (in name order) stands at n seconds."""


def image_files(folder: Path) -> list[Path]:
    """The images directly inside `folder` (no recursion), by file name."""
    return sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )


class FolderSource:
    """The images of one folder (jpg, jpeg, png, bmp, webp), sorted by name, not recursive.

    Every readable image is a frame (no sampling): `pts_s` is the image's position in the
    listing times `NOMINAL_INTERVAL_S`, `index` counts the images decoded so far, and
    `captured_at` is `started_at` plus `pts_s`. An unreadable image is skipped with a warning
    naming it. An empty folder raises `InvalidInput`; a folder of only unreadable images,
    `CorruptMedia`.
    """

    def __init__(
        self,
        camera_id: str,
        folder: str | Path,
        *,
        clock: Clock = utc_now,
        started_at: datetime | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.folder = Path(folder)
        self.health = SourceHealth()
        self._clock = clock
        self._started_at = started_at
        self._stop = threading.Event()

    def close(self) -> None:
        self._stop.set()

    def frames(self) -> Iterator[Frame]:
        files = self._list()
        started_at = self._started_at if self._started_at is not None else self._clock()
        self.health.state = SourceState.RUNNING
        try:
            for position, path in enumerate(files):
                if self._stop.is_set():
                    break
                try:
                    image = read_image(path)
                except (CorruptMedia, NotFound) as exc:  # unreadable, or gone since listed
                    add_warning(self.health, f"skipped {exc}", logger)
                    continue
                index = self.health.frames_decoded
                self.health.frames_decoded += 1
                self.health.frames_sampled += 1
                pts_s = position * NOMINAL_INTERVAL_S
                yield Frame(
                    camera_id=self.camera_id,
                    index=index,
                    pts_s=pts_s,
                    captured_at=started_at + timedelta(seconds=pts_s),
                    image=image,
                )
        except GeneratorExit:
            self.health.state = SourceState.ENDED
            raise
        if self.health.frames_decoded == 0 and not self._stop.is_set():
            self._fail(CorruptMedia(f"{self.folder}: none of its {len(files)} images could be read"))
        self.health.state = SourceState.ENDED

    def _list(self) -> list[Path]:
        try:
            files = image_files(self.folder)
        except OSError as exc:
            self._fail(SourceUnavailable(f"{self.folder}: cannot list the folder ({exc.strerror or exc})"))
        if not files:
            extensions = ", ".join(sorted(IMAGE_SUFFIXES))
            self._fail(InvalidInput(f"{self.folder}: no images in the folder ({extensions})"))
        return files

    def _fail(self, error: Exception) -> NoReturn:
        self.health.state = SourceState.FAILED
        self.health.last_error = str(error)
        raise error
