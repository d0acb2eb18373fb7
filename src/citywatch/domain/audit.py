"""What an action tells the audit log about itself; the log adds who, when and the chain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from citywatch.domain.audit_actions import Action
from citywatch.domain.audit_catalogue import (
    ANY_OBJECT,
    CATALOGUE,
    AuditEventError,
    EventSpec,
    check,
    filter_problem,
)

__all__ = [
    "ANY_OBJECT",
    "CATALOGUE",
    "Action",
    "Actor",
    "AuditEvent",
    "AuditEventError",
    "EventSpec",
    "check",
    "filter_problem",
]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A sensitive action, described without any biometric data. Built, it is checked against
    the catalogue (AuditEventError: an unknown action, an object of another kind, a params
    key its entry does not name)."""

    action: Action
    """What was done, e.g. `Action.PERSON_ENROL`; its string (`person.enrol`) is accepted too."""
    object: str
    """What it acted on, e.g. `person:12`, `camera:gate-1`."""
    legal_basis: str = ""
    authorisation: str = ""
    """Reference of the authorisation the action happened under."""
    case: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Thresholds, model, cameras, time window… JSON values only."""
    result_count: int | None = None

    def __post_init__(self) -> None:
        try:
            action = Action(self.action)
        except ValueError:
            raise AuditEventError(
                f"{self.action!r} is no audit action: citywatch.domain.audit.Action lists them"
            ) from None
        object.__setattr__(self, "action", action)
        check(action, self.object, self.params)


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


SYSTEM = Actor("citywatch@system", "system", service=True)
"""Who closes an ended authorisation: the system enforcing it, not a person."""
