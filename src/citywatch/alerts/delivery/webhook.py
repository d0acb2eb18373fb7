"""Webhooks signed per the Standard Webhooks scheme: `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the `whsec_` key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import Message as HttpHeaders
from typing import IO

from citywatch.alerts.delivery.message import Message, probe_body
from citywatch.alerts.delivery.sink import DeliveryFailed
from citywatch.config.delivery import WebhookSinkSettings, webhook_key
from citywatch.domain.clock import Clock

log = logging.getLogger(__name__)

TOLERANCE_S = 300
"""How far a receiver lets webhook-timestamp stray from its clock (the scheme's advice)."""
USER_AGENT = "citywatch-webhooks/1"
_STAMP_DIGITS = 12


def sign(key: bytes, msg_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value for one message."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(secret: str, headers: Mapping[str, str], body: str, now: datetime) -> bool:
    """A receiver's check: all three headers, a timestamp within TOLERANCE_S, and one of the
    space-separated `v1,` signatures matching (in constant time)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = (
        lowered.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not msg_id or not stamp or not signatures or not (stamp.isascii() and stamp.isdigit()):
        return False
    # seconds since 1970 have 10 digits until the year 2286: a longer one is no time near now
    # (and converting thousands of digits, or comparing them with a float, fails)
    if len(stamp) > _STAMP_DIGITS or abs(int(now.timestamp()) - int(stamp)) > TOLERANCE_S:
        return False
    expected = sign(webhook_key(secret), msg_id, int(stamp), body)
    wanted = expected.encode()
    # bytes, not str: compare_digest refuses non-ASCII text, and a header is the sender's to choose
    return any(hmac.compare_digest(wanted, s.encode("utf-8", "surrogateescape")) for s in signatures.split())


def shown_url(url: str) -> str:
    """The URL without user info, query or fragment, which may carry tokens: for messages."""
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer of its own (a failure), never a second POST elsewhere."""

    def redirect_request(  # noqa: PLR0917 (urllib's signature)
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HttpHeaders,
        newurl: str,
    ) -> None:
        return None


class WebhookSink:
    """POSTs each message as JSON to one URL; any 2xx answer is delivery."""

    def __init__(self, settings: WebhookSinkSettings, *, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.name = settings.name
        self._url = settings.url
        self._shown = shown_url(settings.url)
        self._key = webhook_key(settings.secret.get_secret_value())
        self._timeout_s = settings.timeout_s
        self._clock = clock
        self._opener = urllib.request.build_opener(_NoRedirects)

    def start(self) -> None:
        """Nothing to open: one request per message."""

    def send(self, message: Message) -> None:
        self._post(message.key, message.body)

    def probe(self) -> str:
        status = self._post(f"citywatch-test-{secrets.token_hex(8)}", probe_body(self.name, self._clock()))
        return f"accepted by {self._shown} (HTTP {status})"

    def close(self) -> None:
        """Nothing held open between requests."""

    def _post(self, msg_id: str, body: str) -> int:
        stamp = int(self._clock().timestamp())
        request = urllib.request.Request(  # noqa: S310 (the URL is http(s), checked in the settings)
            self._url,
            data=body.encode(),
            method="POST",
            headers={
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": msg_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(self._key, msg_id, stamp, body),
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"{self.name}: {self._shown} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed(f"{self.name}: cannot reach {self._shown} ({reason})") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"{self.name}: {self._shown} answered HTTP {status}")
        return status
