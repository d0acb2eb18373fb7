"""What every sink does: send one message, or raise DeliveryFailed; probe itself for
`citywatch alerts test-sink`."""

from __future__ import annotations

from typing import Protocol

from citywatch.alerts.delivery.message import Message
from citywatch.domain.errors import Unavailable


class DeliveryFailed(Unavailable):
    """The sink did not take the message (down, refused, timed out); worth retrying."""


class Sink(Protocol):
    name: str

    def start(self) -> None:
        """Open what the sink keeps open (a broker connection, retried in the background)."""
        ...

    def send(self, message: Message) -> None:
        """Deliver one message; returns only once the receiver has it (PUBACK, HTTP 2xx)."""
        ...

    def probe(self) -> str:
        """Send a test message and say what came back; raises DeliveryFailed."""
        ...

    def close(self) -> None: ...
