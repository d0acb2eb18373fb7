"""What an action tells the audit log about itself; the log adds who, when and the chain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A sensitive action, described without any biometric data."""

    action: str
    """Dotted verb, e.g. `person.enrol`, `search.photo`, `camera.start`."""
    object: str
    """What it acted on, e.g. `person:12`, `camera:gate-1`."""
    legal_basis: str = ""
    authorisation: str = ""
    """Reference of the authorisation the action happened under."""
    case: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Thresholds, model, cameras, time window… JSON values only."""
    result_count: int | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user (by name), their role, and the cameras they are limited to."""

    name: str
    role: str
    cameras: frozenset[str] | None = None
    """Camera ids the actor may act on; None: every camera."""
    service: bool = False
    """A machine acting through a service token: never one of the two people of the
    two-person rule."""
