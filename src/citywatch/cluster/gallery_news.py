"""News of a changed gallery, for a city's workers: each process that commits a change to what
the cameras match against (an enrolment, a removal, an approval, a watchlist's threshold, an
order, a face dismissed as not a person) publishes `citywatch.gallery.changed` once that
transaction has committed; every worker listening reloads its gallery at once instead of at
its next periodic reload (which goes on, for what changes with time alone: a watchlist's
expiry, an order's start and end). The message carries nothing but the action's name."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from citywatch.domain.audit import Action
from citywatch.domain.bus import SUBJECT_ROOT, BusMessage, EventBus, Subscription
from citywatch.domain.errors import CitywatchError

log = logging.getLogger(__name__)

GALLERY_CHANGED = f"{SUBJECT_ROOT}.gallery.changed"
CHANGES = frozenset(
    {
        Action.PERSON_ENROL,
        Action.PERSON_UPDATE,
        Action.PERSON_MOVE,
        Action.PERSON_REMOVE,
        Action.CHANGE_APPROVE,
        Action.WATCHLIST_CREATE,
        Action.WATCHLIST_THRESHOLD,
        Action.WATCHLIST_MARGIN,
        Action.WATCHLIST_BIND,
        Action.ORDER_CREATE,
        Action.ORDER_END,
        Action.ORDER_REVOKE,
        Action.ALERT_DISMISS,
    }
)
"""Audited actions that change the gallery (its templates, names, limits or dismissed faces)."""


def tell_after_commit(bus: EventBus, session: Session, action: str) -> None:
    """If `action` changes the gallery, publish the news once `session` commits (never for a
    transaction rolled back). A publish that fails is logged: workers reload periodically."""
    if action not in CHANGES or session.info.get("gallery_news"):
        return
    session.info["gallery_news"] = True

    def publish(committed: Session) -> None:
        committed.info.pop("gallery_news", None)
        try:
            bus.publish(GALLERY_CHANGED, str(action).encode(), msg_id=f"gallery-{uuid.uuid4().hex}")
        except CitywatchError as exc:
            log.warning("gallery change not told to the workers (%s); they reload within seconds", exc)

    event.listen(session, "after_commit", publish, once=True)


def listen(bus: EventBus, reload: Callable[[], None]) -> Subscription:
    """Call `reload` on every news of a changed gallery."""

    def heard(message: BusMessage) -> None:
        reload()
        message.ack()

    return bus.listen([GALLERY_CHANGED], heard)
