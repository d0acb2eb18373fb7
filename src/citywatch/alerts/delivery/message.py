"""What an alert message says: enough to act on and a link, never biometric data (no crop,
no template). Pure: no I/O."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Protocol

ALERT_EVENT = "alert.created"
TEST_EVENT = "citywatch.test"


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """The JSON payload of one alert, as every sink sends it."""

    type: str
    id: int
    kind: str
    severity: str
    camera: str
    person: str
    watchlist: str
    distance: float
    time: str
    """When the alert was raised, ISO 8601 in UTC."""
    url: str
    """Where an operator sees the alert (its crop stays there, behind access control)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Message:
    """One outbox entry as a sink sends it: `key` identifies it across retries (the
    webhook-id, the subscribers' de-duplication key)."""

    key: str
    topic: str
    body: str


def alert_message(  # noqa: PLR0917 (one field each)
    alert_id: int,
    kind: str,
    severity: str,
    camera: str,
    person: str,
    watchlist: str,
    distance: float,
    at: datetime,
    base_url: str = "",
) -> AlertMessage:
    return AlertMessage(
        type=ALERT_EVENT,
        id=alert_id,
        kind=kind,
        severity=severity,
        camera=camera,
        person=person,
        watchlist=watchlist,
        distance=round(distance, 4),
        time=at.astimezone(UTC).isoformat(),
        url=f"{base_url.rstrip('/')}/alerts/{alert_id}",
    )


class AlertFields(Protocol):
    """What a message is made of: an alert row (`store.sighting_tables.Alert`) or its record
    (`domain.records.AlertInfo`), read only."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def camera_id(self) -> str: ...
    @property
    def person_name(self) -> str: ...
    @property
    def watchlist_name(self) -> str: ...
    @property
    def distance(self) -> float: ...
    @property
    def created_at(self) -> datetime: ...


def message_of(alert: AlertFields, base_url: str = "") -> AlertMessage:
    """The one message of an alert, for every sink and the live feed alike."""
    return alert_message(
        alert.id,
        str(alert.kind),
        str(alert.severity),
        alert.camera_id,
        alert.person_name,
        alert.watchlist_name,
        alert.distance,
        alert.created_at,
        base_url,
    )


def probe_body(sink: str, at: datetime) -> str:
    """The body `citywatch alerts test-sink` sends: marked as a test, naming no one."""
    return json.dumps(
        {"type": TEST_EVENT, "sink": sink, "time": at.astimezone(UTC).isoformat()}, separators=(",", ":")
    )
