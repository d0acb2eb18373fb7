"""Webhooks against a local receiver that checks the Standard Webhooks signature and fails
the first two deliveries: delivered on the third, after the backoff."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.alerts.delivery.dispatcher import Dispatcher
from citywatch.alerts.delivery.message import Message
from citywatch.alerts.delivery.outbox import Backoff, OutboxStatus
from citywatch.alerts.delivery.sink import DeliveryFailed
from citywatch.alerts.delivery.webhook import WebhookSink, sign, verify
from citywatch.config.delivery import WebhookSinkSettings, webhook_key
from tests.alerts.delivery.conftest import SECRET, Receiver, deploy, free_port, raise_alerts, wait_until


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    # the example of the Standard Webhooks specification and its reference libraries
    signature = sign(webhook_key(SECRET), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        ({}, True),
        ({"webhook-signature": "v1,bm90IGl0 v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, True),
        ({"webhook-signature": "v1,bm90IGl0"}, False),
        ({"webhook-id": "msg_other"}, False),
        ({"webhook-timestamp": "1614265330x"}, False),
        ({"webhook-timestamp": None}, False),
        # found by fuzzing: both raised TypeError/ValueError instead of answering False
        ({"webhook-signature": "v1,\u00e9t\u00e9 v1,bm90IGl0"}, False),
        ({"webhook-timestamp": "161426533\u00b2"}, False),
        ({"webhook-timestamp": "9" * 400}, False),  # OverflowError against the float clock
        ({"webhook-timestamp": "1" * 5000}, False),  # past int()'s digit limit
        ({"webhook-timestamp": "01614265330"}, True),  # a leading zero is the same time
    ],
)
def test_verify(change: dict[str, str | None], accepted: bool) -> None:
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    headers = {k: v for k, v in {**headers, **change}.items() if v is not None}
    at = datetime.fromtimestamp(1614265330, UTC) + timedelta(seconds=10)
    assert verify(SECRET, headers, '{"test": 2432232314}', at) is accepted
    assert not verify(SECRET, headers, '{"test": 2432232314}', at + timedelta(minutes=10))  # stale


def test_fails_twice_then_delivered_on_the_third_attempt(tmp_path: Path, receiver: Receiver) -> None:
    receiver.fail_first = 2
    sink = WebhookSinkSettings(name="control-room", url=receiver.url, secret=SECRET, timeout_s=5)
    d = deploy(tmp_path, [sink], Backoff(max_attempts=5, initial_s=0.2, max_s=1.0))
    [alert_id] = raise_alerts(d.store, 1)
    dispatcher = Dispatcher(d.outbox, {"control-room": WebhookSink(sink)}, poll_s=0.02)
    dispatcher.start()
    try:
        wait_until(lambda: d.outbox.counts()[OutboxStatus.DELIVERED] == 1, what="the third attempt")
    finally:
        dispatcher.stop()
    [row] = d.outbox.entries()
    assert row.attempts == 3 and row.last_error is None
    assert [r["signature_ok"] for r in receiver.requests] == [True, True, True]
    # one webhook-id across the retries (the receiver's idempotency key), fresh timestamps
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {f"citywatch-outbox-{row.id}"}
    assert all(r["body"]["id"] == alert_id for r in receiver.requests)
    stamps = [int(r["headers"]["webhook-timestamp"]) for r in receiver.requests]
    assert stamps == sorted(stamps)
    assert dispatcher.counts == {"failed": 2, "delivered": 1}


def test_backoff_spaces_the_attempts(tmp_path: Path, receiver: Receiver) -> None:
    receiver.fail_first = 2
    sink = WebhookSinkSettings(name="control-room", url=receiver.url, secret=SECRET)
    d = deploy(tmp_path, [sink], Backoff(max_attempts=5, initial_s=0.3, max_s=5.0))
    raise_alerts(d.store, 1)
    dispatcher = Dispatcher(d.outbox, {"control-room": WebhookSink(sink)}, poll_s=0.02)
    started = time.monotonic()
    dispatcher.start()
    try:
        wait_until(lambda: d.outbox.counts()[OutboxStatus.DELIVERED] == 1, what="delivery")
    finally:
        dispatcher.stop()
    assert time.monotonic() - started >= 0.3 + 0.6  # waited 0.3 s, then 0.6 s


def test_dead_letter_after_max_attempts_then_replay(tmp_path: Path, receiver: Receiver) -> None:
    receiver.fail_first = 3
    sink = WebhookSinkSettings(name="control-room", url=receiver.url, secret=SECRET)
    d = deploy(tmp_path, [sink], Backoff(max_attempts=3, initial_s=0.05, max_s=0.1))
    raise_alerts(d.store, 1)
    dispatcher = Dispatcher(d.outbox, {"control-room": WebhookSink(sink)}, poll_s=0.02)
    dispatcher.start()
    try:
        wait_until(lambda: d.outbox.counts()[OutboxStatus.DEAD] == 1, what="the dead letter")
        [dead] = d.outbox.entries()
        assert dead.attempts == 3 and "HTTP 500" in (dead.last_error or "")
        assert "token" not in (dead.last_error or "")  # the URL's query is never shown
        d.outbox.replay([dead.id])
        wait_until(lambda: d.outbox.counts()[OutboxStatus.DELIVERED] == 1, what="the replayed delivery")
    finally:
        dispatcher.stop()
    assert len(receiver.requests) == 4 and all(r["signature_ok"] for r in receiver.requests)
    assert [e.action for e in d.audited] == ["outbox.replay"]


def test_unreachable_receiver_is_a_delivery_failure() -> None:
    sink = WebhookSink(
        WebhookSinkSettings(name="x", url=f"http://127.0.0.1:{free_port()}/", secret=SECRET, timeout_s=2)
    )
    with pytest.raises(DeliveryFailed, match="cannot reach"):
        sink.send(Message("k", "alert.created", "{}"))


def test_probe_says_accepted(receiver: Receiver) -> None:
    sink = WebhookSink(WebhookSinkSettings(name="x", url=receiver.url, secret=SECRET))
    assert "accepted" in sink.probe() and "HTTP 204" in sink.probe()
    assert receiver.requests[0]["body"]["type"] == "citywatch.test"
    assert receiver.requests[0]["signature_ok"]
