"""Every request body bounded before a route sees it: an ASGI middleware that refuses (413) a
declared length over the limit unread, and counts a streamed (chunked) body as it arrives.

Ordinary routes (JSON bodies, the sign-in form) get `api.body_max_kb`. The upload routes get
the largest upload any of them accepts: they are the routes that declare a multipart/form-data
request body in their OpenAPI (`openapi_extra`), the declaration their clients already read,
so no second list of paths can fall out of step. Each upload route still enforces its own,
smaller limit while reading (`uploads.read_form`); this is the ceiling over all of them.

A middleware, not a route: `verify_routes_declare_permission` does not see it, and the body
is bounded before authentication, so an unauthenticated caller cannot make the app read more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import status
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citywatch.config.api import ApiSettings
from citywatch.web.api.errors import error_response
from citywatch.web.api.people import FORM_OVERHEAD, MB

KB = 1024

_CLOSE = {"Connection": "close"}
"""The rest of a refused body is never read: the connection ends with the answer."""


class BodyTooLarge(HTTPException):
    """A streamed body passed the limit while the app was reading it (413, then mapped by the
    app's one HTTP error handler like any other)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, _refusal(max_bytes), headers=_CLOSE)


def body_max_bytes(settings: ApiSettings) -> int:
    """The limit for a route that takes no upload."""
    return settings.body_max_kb * KB


def upload_max_bytes(settings: ApiSettings) -> int:
    """The largest body any upload route accepts (the routes' own limits, in their own units):
    an enrolment's photos, a case search's photo, the public form's photo."""
    per_image = int(settings.enrol_image_max_mb * MB)
    return max(
        settings.enrol_images_max * per_image + FORM_OVERHEAD,  # api/people.py enrol_person
        per_image + FORM_OVERHEAD,  # api/search.py search
        int(settings.public_photo_max_mb * 1_000_000),  # api/requests.py file_public_request
        body_max_bytes(settings),
    )


def takes_upload(route: BaseRoute) -> bool:
    """Whether `route` declares a multipart/form-data request body (an upload route)."""
    if not isinstance(route, APIRoute) or not route.openapi_extra:
        return False
    body: Any = route.openapi_extra.get("requestBody") or {}
    return "multipart/form-data" in (body.get("content") or {})


class BodyLimit:
    """Bounds the body of every HTTP request: `max_bytes`, or `upload_max_bytes` for a request
    that one of `uploads` (the routes taking multipart uploads) would serve."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, upload_max_bytes: int, uploads: Sequence[BaseRoute]
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = max(upload_max_bytes, max_bytes)
        self.uploads = tuple(uploads)

    def limit_for(self, scope: Scope) -> int:
        if any(route.matches(scope)[0] is Match.FULL for route in self.uploads):
            return self.upload_max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(limit, scope, receive, send)
            return

        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if started:
                        # the answer is already on its way (a stream listening for the client
                        # to leave): no 413 can follow, so treat the client as gone
                        return {"type": "http.disconnect"}
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except BodyTooLarge:
            # the app let it escape rather than answer it (the error handler normally does)
            if started:
                raise
            await _refuse(limit, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _refusal(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes // KB} KB"


async def _refuse(max_bytes: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(status.HTTP_413_CONTENT_TOO_LARGE, _refusal(max_bytes), headers=_CLOSE)
    await response(scope, receive, send)
