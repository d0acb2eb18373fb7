"""`citywatch alerts test-sink`, `alerts outbox` and `alerts replay` in process (the real
app, Typer's runner), against a private broker and a local webhook receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from citywatch.alerts.delivery.outbox import OutboxStatus
from citywatch.config.load import load
from citywatch.runtime.build import Runtime
from tests.alerts.delivery.conftest import SECRET, Broker, Receiver, free_port, raise_alerts
from tests.databases import stray_settings
from tests.integration.cli_helpers import invoke


def run(config: Path, *args: str) -> tuple[int, str]:
    return invoke("--config", str(config), *args)


@pytest.fixture
def config(tmp_path: Path, broker: Broker, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in stray_settings():
        monkeypatch.delenv(key)
    path = tmp_path / "citywatch.yaml"
    sinks = [
        {"name": "hass", "type": "mqtt", "port": broker.port, "publish_timeout_s": 3},
        {"name": "down", "type": "mqtt", "port": free_port(), "publish_timeout_s": 1},
        {"name": "control-room", "type": "webhook", "url": receiver.url, "secret": SECRET},
    ]
    delivery = {"sinks": sinks, "max_attempts": 1}
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "delivery": delivery}))
    return path


def test_test_sink(config: Path, broker: Broker, receiver: Receiver) -> None:
    broker.start()
    code, text = run(config, "alerts", "test-sink", "hass")
    assert code == 0 and "hass: arrived through mqtt://127.0.0.1" in text, text
    code, text = run(config, "alerts", "test-sink", "control-room")
    assert code == 0 and "accepted" in text and "HTTP 204" in text and "not-logged" not in text, text
    assert receiver.requests[0]["signature_ok"]
    code, text = run(config, "alerts", "test-sink", "down")
    assert code == 4 and "not connected to broker" in text, text
    code, text = run(config, "alerts", "test-sink", "nowhere")
    assert code == 3 and "no sink named 'nowhere'" in text, text


def test_outbox_and_replay(config: Path, broker: Broker) -> None:
    rt = Runtime(load(config))
    try:
        raise_alerts(rt, 1)
        dispatcher = rt.dispatcher()
        assert dispatcher is not None
        dispatcher.run_once()  # max_attempts 1: `down` and (broker stopped) `hass` die at once
        dispatcher.stop()
    finally:
        rt.close()
    code, text = run(config, "alerts", "outbox", "--status", "dead", "--json")
    dead = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and sorted(d["sink"] for d in dead) == ["down", "hass"], text
    code, text = run(config, "alerts", "outbox")
    assert code == 0 and "1 delivered, 2 dead" in text, text
    code, text = run(config, "alerts", "replay")
    assert code == 2, text
    code, text = run(config, "alerts", "replay", "--all-dead")
    assert code == 0 and "2 message(s) back to pending" in text, text
    code, text = run(config, "alerts", "replay", str(dead[0]["id"]))
    assert code == 1 and "only dead outbox rows" in text, text
    code, text = run(config, "audit", "list", "--json")
    rt = Runtime(load(config))
    try:
        assert rt.outbox.counts()[OutboxStatus.PENDING] == 2
    finally:
        rt.close()
    assert "outbox.replay" in text, text
