"""Sinks built from their settings: the one place that maps a `type` to a class."""

from __future__ import annotations

from citywatch.config.delivery import MqttSinkSettings, SinkSettings
from citywatch.delivery.mqtt import MqttSink
from citywatch.delivery.sink import Sink
from citywatch.delivery.webhook import WebhookSink


def build_sink(settings: SinkSettings) -> Sink:
    if isinstance(settings, MqttSinkSettings):
        return MqttSink(settings)
    return WebhookSink(settings)
