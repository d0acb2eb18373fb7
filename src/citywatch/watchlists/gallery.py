"""The gallery the cameras match against, kept in memory: the templates of the watchlists in
force (and the faces dismissed as not a person), reloaded when older than `refresh_s`; one
index per set of watchlists an authorisation allows, built from the same load."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from citywatch.config.pipeline import MatchingSettings
from citywatch.domain.errors import Unavailable
from citywatch.domain.matching import GalleryEntry, NonMatch
from citywatch.domain.ports import Embedder
from citywatch.match.index import WatchlistIndex
from citywatch.watchlists.service import WatchlistService

log = logging.getLogger(__name__)

GALLERY_REFRESH_S = 5.0
"""How stale the in-memory watchlist index may get while cameras run (enrolments, removals)."""


class Gallery:
    """`embedder` is asked for when the gallery is first loaded (a command that matches
    nothing never loads the model)."""

    def __init__(
        self,
        watchlists: WatchlistService,
        embedder: Callable[[], Embedder],
        matching: MatchingSettings,
        *,
        refresh_s: float = GALLERY_REFRESH_S,
    ) -> None:
        self._watchlists = watchlists
        self._embedder = embedder
        self._matching = matching
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._index: WatchlistIndex | None = None
        self._at = 0.0
        self._entries: list[GalleryEntry] = []
        self._non_matches: list[NonMatch] = []
        self._restricted: dict[frozenset[str], WatchlistIndex] = {}
        self._reloading = False
        self._news = 0
        """How many times the gallery was told it changed (`invalidate`)."""

    def index(self, allowed: frozenset[str] | None = None) -> WatchlistIndex:
        """The gallery of the active watchlists (only those named in `allowed`, when given)."""
        full = self._full()
        if allowed is None:
            return full
        with self._lock:
            index = self._restricted.get(allowed)
            if index is None:
                entries = [e for e in self._entries if e.watchlist_name in allowed]
                index = WatchlistIndex(entries, full.dim, self._non_matches)
                self._restricted[allowed] = index
            return index

    def invalidate(self) -> None:
        """The gallery changed (news from the bus): reload now, in the background, whatever
        the loaded one's age; a reload already under way when told is followed by another."""
        with self._lock:
            self._news += 1
            if self._index is None or self._reloading:
                return
            self._reloading = True
        threading.Thread(target=self._reload, name="gallery-reload", daemon=True).start()

    def _full(self) -> WatchlistIndex:
        """The loaded index; the first call loads it, and once it is older than `refresh_s` a
        thread of its own loads the next while the cameras go on matching against this one
        (tens of thousands of templates take a while to read)."""
        with self._lock:
            index = self._index
            if index is not None:
                if time.monotonic() - self._at > self._refresh_s and not self._reloading:
                    self._reloading = True
                    threading.Thread(target=self._reload, name="gallery-reload", daemon=True).start()
                return index
        return self._reload()

    def _reload(self) -> WatchlistIndex:
        try:
            started = time.monotonic()
            with self._lock:
                news = self._news
            embedder = self._embedder()
            try:
                entries = self._watchlists.gallery(
                    embedder.name, datetime.now(UTC), self._matching.threshold, self._matching.margin
                )
                non_matches = self._watchlists.non_matches(embedder.name)  # dismissed faces
            except Unavailable as exc:
                with self._lock:
                    if self._index is None:
                        raise
                    log.warning("watchlists not reloaded (%s); matching against the loaded ones", exc)
                    return self._index
            index = WatchlistIndex(entries, embedder.dim, non_matches)
            with self._lock:
                self._index, self._entries, self._non_matches = index, entries, non_matches
                # news that came while this one loaded: stale at once, reloaded at the next use
                self._at = started if news == self._news else float("-inf")
                self._restricted.clear()
            return index
        finally:
            with self._lock:
                self._reloading = False
