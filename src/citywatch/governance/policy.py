"""The policy in force, as running cameras ask it: a snapshot of the records, refreshed every
few seconds, with ended authorisations enforced on the way."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from citywatch.domain.audit import Action, AuditEvent
from citywatch.domain.clock import Clock
from citywatch.domain.errors import Unavailable
from citywatch.domain.policy import CameraPlace, ModeDecision, PolicySnapshot, mode_for
from citywatch.governance.service import GovernanceService

log = logging.getLogger(__name__)

ModeChanged = Callable[[str, ModeDecision, ModeDecision | None], None]
"""Called with (camera id, new decision, previous decision or None) when a camera's mode changes."""


class PolicyService:
    def __init__(
        self,
        governance: GovernanceService,
        *,
        refresh_s: float,
        on_change: ModeChanged | None = None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._gov = governance
        self._refresh_s = refresh_s
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: PolicySnapshot | None = None
        self._loaded_at = 0.0
        self._last: dict[str, ModeDecision] = {}

    def snapshot(self) -> PolicySnapshot:
        with self._lock:
            now = time.monotonic()
            if self._snapshot is None or now - self._loaded_at > self._refresh_s:
                try:
                    self._snapshot = self._load()
                except Unavailable as exc:
                    if self._snapshot is None:
                        raise
                    log.warning("policy not reloaded (%s); deciding on the loaded one", exc)
                    return self._snapshot
                self._loaded_at = now
            return self._snapshot

    def refresh(self) -> None:
        """Forget the snapshot: the next decision reads the records again."""
        with self._lock:
            self._snapshot = None

    def decide(self, camera: CameraPlace, at: datetime) -> ModeDecision:
        decision = mode_for(camera, self.snapshot(), at)
        previous = self._last.get(camera.id)
        if previous is None or previous.mode is not decision.mode or _refs(previous) != _refs(decision):
            why = f" ({'; '.join(decision.reasons)})" if decision.reasons else ""
            log.info("camera %s: mode %s%s", camera.id, decision.mode, why)
            if self._on_change is not None:
                try:
                    self._on_change(camera.id, decision, previous)
                except Unavailable as exc:  # recorded on a later frame, never skipped
                    log.warning("camera %s: mode change not audited yet (%s); will retry", camera.id, exc)
                    return decision
            self._last[camera.id] = decision
        return decision

    def _load(self) -> PolicySnapshot:
        snapshot = self._gov.snapshot()
        now = self._clock()
        if any(a.ended(now) for a in snapshot.authorisations):
            self._gov.enforce()
            snapshot = self._gov.snapshot()
        return snapshot


def _refs(decision: ModeDecision) -> tuple[str, ...]:
    return tuple(sorted(a.reference for a in decision.authorisations))


def mode_changed(camera_id: str, new: ModeDecision, old: ModeDecision | None) -> AuditEvent:
    """The audit record of a camera's mode changing: the mode, what was asked, the one before,
    why, and the authorisations (and their legal bases) it stands on."""
    return AuditEvent(
        Action.CAMERA_MODE,
        f"camera:{camera_id}",
        legal_basis="; ".join(sorted({a.legal_basis for a in new.authorisations})),
        authorisation=", ".join(sorted(a.reference for a in new.authorisations)),
        params={
            "mode": str(new.mode),
            "requested": str(new.requested),
            "previous": None if old is None else str(old.mode),
            "reasons": list(new.reasons),
            "watchlists": sorted(new.watchlists),
        },
    )
