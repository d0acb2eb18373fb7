"""Sinks built from their settings: the one place that maps a `type` to a class; and the
dispatcher over them."""

from __future__ import annotations

from collections.abc import Callable

from citywatch.alerts.delivery.dispatcher import Dispatcher
from citywatch.alerts.delivery.mqtt import MqttSink
from citywatch.alerts.delivery.outbox import Outbox
from citywatch.alerts.delivery.sink import Sink
from citywatch.alerts.delivery.webhook import WebhookSink
from citywatch.config.delivery import DeliverySettings, MqttSinkSettings, SinkSettings
from citywatch.domain.errors import NotFound


def build_sink(settings: SinkSettings) -> Sink:
    if isinstance(settings, MqttSinkSettings):
        return MqttSink(settings)
    return WebhookSink(settings)


def sink_named(delivery: DeliverySettings, name: str) -> Sink:
    """The configured sink `name`, built (not connected yet)."""
    for settings in delivery.sinks:
        if settings.name == name:
            return build_sink(settings)
    known = ", ".join(s.name for s in delivery.sinks) or "none configured"
    raise NotFound(f"no sink named {name!r} (sinks: {known})")


def build_dispatcher(
    outbox: Outbox, delivery: DeliverySettings, turn: Callable[[], bool]
) -> Dispatcher | None:
    """The alert delivery thread (None when no sink is configured); not started. `turn`:
    whether a round may run now (the relay's singleton lease)."""
    if not delivery.sinks:
        return None
    return Dispatcher(
        outbox, {s.name: build_sink(s) for s in delivery.sinks}, poll_s=delivery.poll_s, turn=turn
    )
