"""Alert routes: the live feed as server-sent events (`GET /api/alerts/stream`)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

import anyio.to_thread
from fastapi import FastAPI, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from citywatch.alerts import views as alerts
from citywatch.alerts.delivery.feed import FeedClosed
from citywatch.alerts.delivery.message import AlertMessage, alert_message, message_of
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import InvalidInput, PermissionDenied
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import alert_views
from citywatch.users.service import UserService
from citywatch.web.api.auth import Caller, requires, runtime_of, sign_ins
from citywatch.web.api.schemas.common import SIGNED_IN, problems

log = logging.getLogger(__name__)

ALERT_EVENT = "alert"
REPLAY_PAGE = 500
EXAMPLE = alert_message(
    17, "match", "high", "gate-1", "Jane Roe", "wanted", 0.41, datetime(2026, 11, 27, 9, 12, 3, tzinfo=UTC)
)
"""The OpenAPI example's payload: built as every alert's is, so it cannot drift from AlertMessage."""


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    app.add_api_route(
        "/api/alerts/stream",
        stream_alerts,
        methods=["GET"],
        tags=["alerts"],
        response_class=EventSourceResponse,
        summary="Live alerts as server-sent events",
        responses={
            200: {
                "description": "One `alert` event per alert, and keep-alive comments while idle.",
                "content": {
                    "text/event-stream": {
                        "schema": {"type": "string"},
                        "example": f"event: {ALERT_EVENT}\nid: {EXAMPLE.id}\ndata: {EXAMPLE.to_json()}\n\n",
                    }
                },
            },
            **problems(*SIGNED_IN),
        },
    )


def stream_alerts(
    request: Request,
    caller: Annotated[Caller, requires(Permission.ALERTS_READ)],
    last_event_id: Annotated[str | None, Header(description="The id of the last alert received.")] = None,
) -> EventSourceResponse:
    """Each new alert the caller may see (`event: alert`, `id`, `data`: the same JSON the
    sinks get, with no biometric data), from the moment it is stored; with `Last-Event-ID`,
    the alerts stored after that one first. Opening the stream is audited."""
    rt = runtime_of(request)
    after = _last_event_id(last_event_id)
    actor = caller.actor
    cameras = "all" if actor.cameras is None else sorted(actor.cameras)
    rt.audit(
        AuditEvent(Action.ALERTS_STREAM, "alerts:live", params={"cameras": cameras, "last_event_id": after}),
        actor=actor,
    )
    settings = rt.settings.api
    return EventSourceResponse(
        _events(rt, sign_ins(request), caller, after),
        ping=settings.heartbeat_s,
        ping_message_factory=_heartbeat,
        send_timeout=settings.send_timeout_s,
    )


async def _events(
    rt: Runtime, users: UserService, caller: Caller, after: int | None
) -> AsyncIterator[ServerSentEvent]:
    """Subscribe first, then replay from the store, then follow the feed: nothing stored in
    between is missed, and what both give is sent once."""
    actor = caller.actor
    sub = rt.feed.subscribe(functools.partial(_visible, actor), name=f"sse:{actor.name}")
    recheck_s = rt.settings.api.recheck_s
    try:
        replayed: set[int] = set()
        if after is not None:
            for missed in await anyio.to_thread.run_sync(_missed, rt, actor, after):
                replayed.add(missed.id)
                yield _event(missed)
        check_at = time.monotonic() + recheck_s
        while True:
            try:
                message = await sub.next(max(0.0, check_at - time.monotonic()))
            except FeedClosed as exc:
                log.info("alert stream of %s ended: %s", actor.name, exc)
                return
            if message is not None and message.id not in replayed:
                yield _event(message)
            if time.monotonic() >= check_at:
                if not await anyio.to_thread.run_sync(_still_signed_in, users, caller):
                    return
                check_at = time.monotonic() + recheck_s
    finally:
        rt.feed.unsubscribe(sub)


def _visible(actor: Actor, message: AlertMessage) -> bool:
    return can(actor, Permission.ALERTS_READ, message.camera)


def _missed(rt: Runtime, actor: Actor, after: int) -> list[AlertMessage]:
    """The alerts after `after` that `actor` may see, oldest first, every page of them."""
    base_url = rt.settings.delivery.base_url
    missed = alerts.missed(alert_views(rt), actor, after, page=REPLAY_PAGE)
    return [m for m in (message_of(a, base_url) for a in missed) if _visible(actor, m)]


def _still_signed_in(users: UserService, caller: Caller) -> bool:
    """The token still signs in the same actor (not revoked, user active, same role and scope)."""
    try:
        now = users.actor_for_token(caller.token)
    except PermissionDenied as exc:
        log.info("alert stream of %s closed: %s", caller.actor.name, exc)
        return False
    if now != caller.actor:
        log.info("alert stream of %s closed: their role or cameras changed", caller.actor.name)
        return False
    return True


def _heartbeat() -> ServerSentEvent:
    """A comment line, which EventSource ignores: keeps proxies from closing an idle stream."""
    return ServerSentEvent(comment="ping")


def _event(message: AlertMessage) -> ServerSentEvent:
    return ServerSentEvent(message.to_json(), event=ALERT_EVENT, id=str(message.id))


def _last_event_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        after = int(value.strip())
    except ValueError:
        raise InvalidInput(f"Last-Event-ID must be an alert id, not {value[:40]!r}") from None
    if after < 0:
        raise InvalidInput("Last-Event-ID must not be negative")
    return after
