"""Bounded request bodies: the one reader for every body a route parses itself (`read_body`:
the sign-in form; `read_form`: the forms that take files, the public subject-access form and
enrolment), read up to a limit (413 past it), multipart parsed by python-multipart with its
parts counted (413 past `api.form_parts_max`) and each text field bounded; and a rate limit
per address (or per any other key, such as an account's name).

No request ties up the event loop: the body is read asynchronously, then parsed (and an
uploaded image checked and decoded, `decode_upload`) on a worker thread, at most
`api.decodes_at_once` at a time, so that `/healthz` and every other request keep answering
while a large or malicious form is being taken apart.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request, status
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import ImmutableMultiDict

from citywatch.config.api import ApiSettings
from citywatch.domain.errors import InvalidInput, TooLarge
from citywatch.media.images import decode_image

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class FormLimits:
    """What one multipart form may hold beyond its byte size: `max_parts` parts (fields and
    files together) and `max_field_bytes` bytes in one text field (a part without a filename)."""

    max_parts: int = 256
    max_field_bytes: int = 64 * 1024

    @classmethod
    def of(cls, settings: ApiSettings) -> FormLimits:
        return cls(settings.form_parts_max, settings.form_field_max_kb * 1024)


def add_upload_limits(app: FastAPI, settings: ApiSettings) -> None:
    """The app's form limits, pixel budget and the one limiter of its parses and decodes."""
    app.state.form_limits = FormLimits.of(settings)
    app.state.upload_max_pixels = settings.upload_max_pixels
    app.state.decoding = anyio.CapacityLimiter(settings.decodes_at_once)


async def off_loop(request: Request, work: Callable[[], T]) -> T:
    """`work()` on a worker thread, at most `api.decodes_at_once` at a time across the app
    (the others wait without holding a thread): parsing and decoding never block the event loop."""
    limiter: anyio.CapacityLimiter = request.app.state.decoding
    return await anyio.to_thread.run_sync(work, limiter=limiter)


async def decode_upload(request: Request, data: bytes, name: str) -> None:
    """Refuse an uploaded image that is over the pixel budget (TooLarge, 413, from its header,
    before any decoding) or does not decode (CorruptMedia, 422); off the event loop."""
    max_pixels: int = request.app.state.upload_max_pixels
    await off_loop(request, lambda: decode_image(data, name, max_pixels=max_pixels))


async def read_form(request: Request, *, max_bytes: int) -> Form:
    """The request's multipart form, at most `max_bytes` of body (413 beyond it, refused
    from the declared length or as soon as the stream passes the limit, never read whole),
    parsed off the event loop within the app's `FormLimits`."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the form as multipart/form-data, not {content_type[:60] or 'nothing'}",
        )
    too_large = f"the upload is larger than {max_bytes / 1_000_000:g} MB; send a smaller photo"
    body = await read_body(request, max_bytes, too_large=too_large)
    limits: FormLimits = request.app.state.form_limits
    return await off_loop(request, lambda: parse_form(content_type, body, limits))


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


def parse_form(content_type: str, body: bytes, limits: FormLimits | None = None) -> Form:
    """Fields and files (both repeatable) of a multipart/form-data body, parsed by
    python-multipart: InvalidInput if broken, TooLarge (413) past `limits` (refused at the
    first part too many, the rest unparsed). A part is a file when it carries a filename."""
    mime, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise InvalidInput("the form is not multipart/form-data with a boundary")
    collector = _Parts(limits or FormLimits())
    parser = MultipartParser(boundary, collector.callbacks())
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise InvalidInput(f"the form is not well-formed multipart/form-data ({exc})") from None
    if not collector.ended:
        raise InvalidInput("the form is not well-formed multipart/form-data (it does not end)")
    return Form(collector.fields, ImmutableMultiDict(collector.files))


@dataclass
class _Parts:
    """python-multipart's callbacks: each part's headers and data gathered, counted and bounded."""

    limits: FormLimits
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[tuple[str, Upload]] = field(default_factory=list)
    ended: bool = False
    _count: int = 0
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _header_field: bytearray = field(default_factory=bytearray)
    _header_value: bytearray = field(default_factory=bytearray)
    _name: str = ""
    _filename: str | None = None
    _data: bytearray = field(default_factory=bytearray)

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _begin(self) -> None:
        self._count += 1
        if self._count > self.limits.max_parts:
            raise TooLarge(
                f"the form has more than {self.limits.max_parts} parts (api.form_parts_max); "
                "it was refused unparsed"
            )
        self._headers = {}
        self._data = bytearray()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field.extend(data[start:end])

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value.extend(data[start:end])

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if disposition != b"form-data" or not name:
            raise InvalidInput("a part of the form has no name (Content-Disposition: form-data)")
        self._name = name
        filename = options.get(b"filename")
        self._filename = None if filename is None else filename.decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._data.extend(data[start:end])
        if self._filename is None and len(self._data) > self.limits.max_field_bytes:
            raise TooLarge(
                f"the form's field {self._name!r} is larger than {self.limits.max_field_bytes // 1024} KB "
                "(api.form_field_max_kb)"
            )

    def _part_end(self) -> None:
        if self._filename is not None:
            self.files.append((self._name, Upload(self._filename, bytes(self._data))))
        else:
            self.fields.setdefault(self._name, []).append(self._data.decode("utf-8", "replace"))

    def _end(self) -> None:
        self.ended = True


class Failure(Enum):
    """What `RateLimit.fail` made of one failure (a failed sign-in)."""

    AUDIT = "audit"
    """Within both budgets: record it and answer as usual (401)."""
    UNAUDITED = "unaudited"
    """Past the budget of recorded failures across all addresses: answer as usual, record nothing."""
    REFUSED = "refused"
    """The address is past its limit: 429, recorded nothing."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """`RateLimit.fail`'s answer: what to do with the failure, whether it is the one that crossed
    a limit (`address` for this address, `everyone` for the budget across all; each at most once
    per window, so that the start of a flood is on record once), and the key it was counted under."""

    failure: Failure
    key: str
    retry_after_s: int = 0
    address_crossed: bool = False
    everyone_crossed: bool = False

    def refusal(self) -> HTTPException:
        """The 429 for a refused failure (with Retry-After)."""
        return _too_many(self.retry_after_s)


@dataclass
class _Address:
    calls: deque[float] = field(default_factory=deque)
    crossed_at: float | None = None
    """When this address last crossed its limit (`fail`): recorded once per window."""


@dataclass
class RateLimit:
    """At most `per_window` calls per client address in any `window_s` seconds (in memory:
    a restart forgets, which is enough to bound a form that starts a footage search).

    IPv6 addresses count per /64 (one subscriber's usual allocation), so that rotating through
    it does not escape the limit; IPv4-mapped ones count as the IPv4 address. `check` limits
    every call; `fail` limits failures only (failed sign-ins: a success is never counted or
    refused), with `audited_per_window` recorded failures across all addresses. `locked` and
    `strike` count failures under any other key, as given (an account's name, whoever sends it). Each check
    counts atomically under one lock, so a concurrent burst cannot overshoot; addresses that
    left the window are swept at most once per `sweep_every_s`."""

    per_window: int
    window_s: float = 3600.0
    audited_per_window: int | None = None
    """For `fail`: the failures recorded in a window across all addresses (None: no bound)."""
    sweep_every_s: float = 60.0
    _calls: dict[str, _Address] = field(default_factory=dict, init=False)
    _audited: deque[float] = field(default_factory=deque, init=False)
    _everyone_crossed_at: float | None = field(default=None, init=False)
    _next_sweep: float = field(default=float("-inf"), init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def check(self, client: str, now: float | None = None) -> None:
        """Count a call from `client`; 429 (with Retry-After) when it is one too many."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entry(address_key(client), now)
            if len(entry.calls) >= self.per_window:
                raise _too_many(self._wait_s(entry, now))
            entry.calls.append(now)

    def fail(self, client: str, now: float | None = None) -> Verdict:
        """Count a failure from `client` and say what to do with it: record it (AUDIT), answer
        without a record (UNAUDITED: the budget across all addresses is spent), or refuse it
        (REFUSED: the address is past its limit; a refused failure extends nothing)."""
        now = time.monotonic() if now is None else now
        key = address_key(client)
        with self._lock:
            entry = self._entry(key, now)
            if len(entry.calls) >= self.per_window:
                crossed = entry.crossed_at is None or now - entry.crossed_at >= self.window_s
                # the crossing record counts against the budget across all addresses as well
                if crossed and not self._take_audit_slot(now):
                    return Verdict(
                        Failure.REFUSED,
                        key,
                        self._wait_s(entry, now),
                        everyone_crossed=self._cross_everyone(now),
                    )
                if crossed:
                    entry.crossed_at = now
                return Verdict(Failure.REFUSED, key, self._wait_s(entry, now), address_crossed=crossed)
            entry.calls.append(now)
            if self._take_audit_slot(now):
                return Verdict(Failure.AUDIT, key)
            return Verdict(Failure.UNAUDITED, key, everyone_crossed=self._cross_everyone(now))

    def locked(self, key: str, now: float | None = None) -> int:
        """Seconds until `key` (taken as given: an account's name, not an address) may fail
        again: 0 while it is within its limit. Counts nothing (`strike` counts)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entry(key, now)
            return self._wait_s(entry, now) if len(entry.calls) >= self.per_window else 0

    def strike(self, key: str, now: float | None = None) -> bool:
        """Count one failure under `key` (as given); True for the failure that reaches the limit
        (`key` is locked from now on, until its oldest failure leaves the window): once a lock."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entry(key, now)
            entry.calls.append(now)
            return len(entry.calls) == self.per_window

    def _take_audit_slot(self, now: float) -> bool:
        if self.audited_per_window is None:
            return True
        while self._audited and now - self._audited[0] >= self.window_s:
            self._audited.popleft()
        if len(self._audited) >= self.audited_per_window:
            return False
        self._audited.append(now)
        return True

    def _cross_everyone(self, now: float) -> bool:
        """True once per window: the failure that found the budget across all addresses spent."""
        crossed_at = self._everyone_crossed_at
        if crossed_at is not None and now - crossed_at < self.window_s:
            return False
        self._everyone_crossed_at = now
        return True

    def _entry(self, key: str, now: float) -> _Address:
        """`key`'s calls within the window (older ones dropped); sweeps now and then."""
        if now >= self._next_sweep:
            self._sweep(now)
        entry = self._calls.setdefault(key, _Address())
        while entry.calls and now - entry.calls[0] >= self.window_s:
            entry.calls.popleft()
        return entry

    def _sweep(self, now: float) -> None:
        # forget the addresses whose last call has left the window and that crossed no limit
        # within it (memory stays bounded by the addresses seen within a window and a sweep)
        self._next_sweep = now + self.sweep_every_s
        for stale in [
            key
            for key, entry in self._calls.items()
            if (not entry.calls or now - entry.calls[-1] >= self.window_s)
            and (entry.crossed_at is None or now - entry.crossed_at >= self.window_s)
        ]:
            del self._calls[stale]

    def _wait_s(self, entry: _Address, now: float) -> int:
        return int(self.window_s - (now - entry.calls[0])) + 1


def address_key(client: str) -> str:
    """What a rate limit counts `client` under: an IPv6 address's /64, an IPv4-mapped IPv6
    address's IPv4 address, any other address (or a name such as `unknown`) as given."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def _too_many(wait_s: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many requests from this address; try again in {wait_s} s",
        headers={"Retry-After": str(wait_s)},
    )
