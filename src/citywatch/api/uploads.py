"""Bounded request bodies: the one reader for every body a route parses itself (`read_body`:
the sign-in form; `read_form`: the forms that take files, the public subject-access form and
enrolment), read up to a limit (413 past it), multipart parsed with the standard library; and
a per-address rate limit.

The body is read here rather than through Starlette's form parser, which needs the
python-multipart package; the limit is enforced while reading, so an oversized body is
refused without being held in memory.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from fastapi import HTTPException, Request, status
from starlette.datastructures import ImmutableMultiDict

from citywatch.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Upload:
    """One file of a form: its name as sent (never trusted as a path) and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Form:
    """Text fields (repeatable, in the order sent) and file parts: `files[name]` is the last
    file sent under `name`, `files.getlist(name)` every one in order."""

    fields: dict[str, list[str]]
    files: ImmutableMultiDict[str, Upload]

    def one_file(self, name: str) -> Upload | None:
        """The file sent as `name`, None when there is none; InvalidInput when there are several."""
        sent = self.files.getlist(name)
        if len(sent) > 1:
            raise InvalidInput(f"send one file as {name!r}")
        return sent[0] if sent else None


async def read_form(request: Request, *, max_bytes: int) -> Form:
    """The request's multipart form, at most `max_bytes` of body (413 beyond it, refused
    from the declared length or as soon as the stream passes the limit, never read whole)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the form as multipart/form-data, not {content_type[:60] or 'nothing'}",
        )
    too_large = f"the upload is larger than {max_bytes / 1_000_000:g} MB; send a smaller photo"
    return parse_form(content_type, await read_body(request, max_bytes, too_large=too_large))


async def read_body(request: Request, max_bytes: int, *, too_large: str | None = None) -> bytes:
    """The request's body, at most `max_bytes` of it: 413 (saying `too_large`) when the declared
    length is larger, or as soon as the stream passes the limit; never read whole first."""
    declared = request.headers.get("content-length", "")
    refusal = too_large or f"the request body is larger than {max_bytes} bytes"
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, refusal)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, refusal)
    return bytes(body)


def parse_form(content_type: str, body: bytes) -> Form:
    """Fields and files (both repeatable) of a multipart/form-data body; InvalidInput if broken.
    A part is a file when it carries a filename."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart() or message.defects:
        raise InvalidInput("the form is not well-formed multipart/form-data")
    fields: dict[str, list[str]] = {}
    files: list[tuple[str, Upload]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise InvalidInput("a part of the form has no name (Content-Disposition: form-data)")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files.append((name, Upload(filename, data)))
        else:
            fields.setdefault(name, []).append(data.decode("utf-8", "replace"))
    return Form(fields, ImmutableMultiDict(files))


@dataclass
class RateLimit:
    """At most `per_window` calls per client address in any `window_s` seconds (in memory:
    a restart forgets, which is enough to bound a form that starts a footage search)."""

    per_window: int
    window_s: float = 3600.0
    _calls: dict[str, deque[float]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def check(self, client: str, now: float | None = None) -> None:
        """Count a call from `client`; 429 (with Retry-After) when it is one too many."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._refuse_when_spent(client, now)
            self._count(client, now)

    def refuse_when_spent(self, client: str, now: float | None = None) -> None:
        """429 (with Retry-After) when `client` has used up the window, counting nothing: for a
        limit on failures, checked before the attempt and counted (`count`) only when it fails."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._refuse_when_spent(client, now)

    def count(self, client: str, now: float | None = None) -> None:
        """Count a call (a failure) from `client`, never refusing it."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._count(client, now)

    def _refuse_when_spent(self, client: str, now: float) -> None:
        calls = self._calls.get(client)
        if calls is None:
            return
        while calls and now - calls[0] >= self.window_s:
            calls.popleft()
        if len(calls) >= self.per_window:
            wait_s = int(self.window_s - (now - calls[0])) + 1
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many requests from this address; try again in {wait_s} s",
                headers={"Retry-After": str(wait_s)},
            )

    def _count(self, client: str, now: float) -> None:
        self._calls.setdefault(client, deque()).append(now)
        # forget the addresses whose last call has left the window (memory stays bounded by
        # the addresses seen within one window)
        for stale in [c for c, q in self._calls.items() if not q or now - q[-1] >= self.window_s]:
            del self._calls[stale]
