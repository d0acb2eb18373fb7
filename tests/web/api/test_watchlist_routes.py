"""Watchlist create and tuning, zone and event removal over the API: a looser threshold or
margin waits for a second person, stricter ones and severity apply at once; each is audited
as the caller."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.web.api.harness import Api, api_settings, open_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path))


def test_a_looser_threshold_waits_for_a_second_person_and_a_stricter_one_applies(api: Api) -> None:
    default = api.rt.settings.matching.threshold
    created = api.call("POST", "/api/watchlists", "sam", json={"name": "wanted", "threshold": default + 0.1})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["watchlist"]["threshold"] is None  # still the default
    [tuning] = body["tuning"]
    assert tuning["applied"] is False and tuning["change"]["status"] == "pending"
    change_id = tuning["change"]["id"]
    assert api.call("POST", f"/api/changes/{change_id}/approve", "sam").status_code == 403  # not twice
    assert api.call("POST", f"/api/changes/{change_id}/approve", "sue").status_code == 200
    threshold = [
        w for w in api.call("GET", "/api/watchlists", "sam").json()["items"] if w["name"] == "wanted"
    ]
    assert threshold[0]["threshold"] == pytest.approx(default + 0.1)

    stricter = api.call("POST", "/api/watchlists/wanted/threshold", "sam", json={"value": default - 0.1})
    assert stricter.status_code == 200
    assert stricter.json()["tuning"][0]["applied"] is True
    assert stricter.json()["watchlist"]["threshold"] == pytest.approx(default - 0.1)

    margin = api.call("POST", "/api/watchlists/wanted/margin", "sam", json={"value": 0.0})
    assert margin.json()["tuning"][0]["applied"] is (api.rt.settings.matching.margin == 0.0)

    severity = api.call("POST", "/api/watchlists/wanted/severity", "sam", json={"value": "critical"})
    assert severity.json()["watchlist"]["severity"] == "critical"
    actors = {e.actor for e in api.rt.audit_log.entries() if e.object.startswith("watchlist:")}
    assert actors == {"sam", "sue"}


def test_watchlist_tuning_refuses_bad_values_and_unknown_lists(api: Api) -> None:
    assert api.call("POST", "/api/watchlists/none/threshold", "sam", json={"value": 0.4}).status_code == 404
    assert api.call("POST", "/api/watchlists", "sam", json={"name": ""}).status_code == 422
    assert api.call("POST", "/api/watchlists", "sam", json={"name": "x", "threshold": 9}).status_code == 422
    api.call("POST", "/api/watchlists", "sam", json={"name": "dup"})
    assert api.call("POST", "/api/watchlists", "sam", json={"name": "dup"}).status_code == 409
    bad = api.call("POST", "/api/watchlists/dup/severity", "sam", json={"value": "extreme"})
    assert bad.status_code == 422


def test_zones_and_events_are_removed_events_first(api: Api) -> None:
    assert (
        api.call("POST", "/api/zones", "ada", json={"name": "square", "cameras": ["gate-1"]}).status_code
        == 201
    )
    start = datetime.now(UTC) + timedelta(days=1)
    event = {
        "name": "march",
        "zone": "square",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=3)).isoformat(),
    }
    assert api.call("POST", "/api/events", "ada", json=event).status_code == 201
    assert api.call("DELETE", "/api/zones/square", "ada").status_code == 409  # its event first
    assert api.call("DELETE", "/api/events/march", "ada").status_code == 204
    assert api.call("DELETE", "/api/events/march", "ada").status_code == 404
    assert api.call("DELETE", "/api/zones/square", "ada").status_code == 204
    assert api.call("GET", "/api/zones", "ada").json()["items"] == []
    assert api.call("DELETE", "/api/zones/square", "ada").status_code == 404
