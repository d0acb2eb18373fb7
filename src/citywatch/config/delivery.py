"""Where alerts are delivered (MQTT brokers, signed webhooks) and how failures are retried."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator

from citywatch.config.base import Section

SinkName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (the scheme's prefix, not a secret)
MIN_SECRET_BYTES = 24


class MqttSinkSettings(Section):
    type: Literal["mqtt"] = "mqtt"
    name: SinkName = Field(description="Name used in the outbox and by `citywatch alerts test-sink`.")
    host: str = Field("127.0.0.1", min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    topic_prefix: str = Field(
        "citywatch",
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description="Alerts go to <prefix>/alerts and <prefix>/<camera>/alerts (as Frigate's do).",
    )
    username: str = Field("", description="Broker user name (empty: anonymous).")
    password: SecretStr = Field(SecretStr(""), description="Broker password (prefer the environment).")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive interval, in seconds.")
    publish_timeout_s: float = Field(
        10.0, gt=0, le=300, description="How long one publish waits for the broker's PUBACK (QoS 1)."
    )


class WebhookSinkSettings(Section):
    type: Literal["webhook"] = "webhook"
    name: SinkName = Field(description="Name used in the outbox and by `citywatch alerts test-sink`.")
    url: str = Field(
        pattern=r"^https?://\S+$", description="Receiver URL; the alert is POSTed there as JSON."
    )
    secret: SecretStr = Field(
        description="Standard Webhooks signing secret: whsec_ followed by base64 of at least "
        f"{MIN_SECRET_BYTES} random bytes (prefer the environment)."
    )
    timeout_s: float = Field(10.0, gt=0, le=300, description="How long one request may take.")

    @field_validator("secret")
    @classmethod
    def verify_secret(cls, secret: SecretStr) -> SecretStr:
        webhook_key(secret.get_secret_value())
        return secret


SinkSettings = Annotated[MqttSinkSettings | WebhookSinkSettings, Field(discriminator="type")]


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret (ValueError when it is not one)."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {WEBHOOK_SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError(f"a webhook secret is {WEBHOOK_SECRET_PREFIX} followed by base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"a webhook secret holds at least {MIN_SECRET_BYTES} bytes")
    return key


class DeliverySettings(Section):
    sinks: list[SinkSettings] = Field(
        default_factory=list,
        description="Where every new alert is delivered, through a durable outbox (none: alerts stay "
        "in the database only).",
    )
    max_attempts: int = Field(
        10, ge=1, le=100, description="Attempts per alert and sink before it is dead-lettered."
    )
    backoff_initial_s: float = Field(
        2.0, gt=0, le=3600, description="Wait after the first failed attempt; doubled after each."
    )
    backoff_max_s: float = Field(600.0, gt=0, le=86_400, description="Longest wait between attempts.")
    poll_s: float = Field(1.0, gt=0, le=60, description="How often the dispatcher looks for due messages.")
    base_url: str = Field(
        "",
        description="Prefix for the link in each message (e.g. https://citywatch.example); "
        "empty: a path such as /alerts/12.",
    )

    @field_validator("sinks")
    @classmethod
    def verify_unique_sink_names(cls, sinks: list[SinkSettings]) -> list[SinkSettings]:
        seen: set[str] = set()
        for sink in sinks:
            if sink.name in seen:
                raise ValueError(f"sink name {sink.name!r} is used twice")
            seen.add(sink.name)
        return sinks
