"""How a use case records what it does: in the session of the action itself, so that the
record commits with it or not at all. The runtime wires these to the audit log."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from citywatch.domain.audit import Actor, AuditEvent

AuditHook = Callable[[Session, AuditEvent], None]
"""Writes an audit record inside the session of the action it records, as the actor the hook
was made for."""
ActorAuditHook = Callable[[Session, Actor, AuditEvent], None]
"""The same, naming the actor at each call (for stores that act for several people)."""
Audit = Callable[[AuditEvent, Actor], None]
"""Records an action that has no transaction of its own (a search, a view, a refusal) as the
actor named, in a transaction of its own (the runtime's `audit`)."""
