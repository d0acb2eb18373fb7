"""Sinks built from their settings: the one place that maps a `type` to a class."""

from __future__ import annotations

from citywatch.alerts.delivery.mqtt import MqttSink
from citywatch.alerts.delivery.sink import Sink
from citywatch.alerts.delivery.webhook import WebhookSink
from citywatch.config.delivery import MqttSinkSettings, SinkSettings


def build_sink(settings: SinkSettings) -> Sink:
    if isinstance(settings, MqttSinkSettings):
        return MqttSink(settings)
    return WebhookSink(settings)
