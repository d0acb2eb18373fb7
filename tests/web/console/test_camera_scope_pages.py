"""Camera scope on the holds, requests and exports pages: a user limited to gate-1 (ivy, sol)
sees only the holds, requests and exports wholly within gate-1, and the forms offer only
gate-1; unscoped users see everything. The requests pager keeps the page size."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.web.console.pages_harness import Console, console_settings, open_console

NOW = datetime.now(UTC)
WINDOW = {
    "starts_at": (NOW - timedelta(hours=2)).isoformat(),
    "ends_at": (NOW - timedelta(hours=1)).isoformat(),
}


@dataclass
class World:
    console: Console
    holds: dict[str, int]
    requests: dict[str, int]
    exports: dict[str, int]
    """Each keyed by its cameras: `gate-1`, `hall-2`, `gate-1+hall-2`."""


SCOPES = {"gate-1": ["gate-1"], "hall-2": ["hall-2"], "gate-1+hall-2": ["gate-1", "hall-2"]}


def made(response: Any, key: str = "id") -> int:
    assert response.status_code in (200, 201), response.text
    found: int = response.json()[key]
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for console in open_console(console_settings(tmp_path_factory.mktemp("scope"))):
        holds, requests, exports = {}, {}, {}
        for key, cameras in SCOPES.items():
            hold = {"reference": f"case:{key}", "reason": "evidence", "cameras": cameras, **WINDOW}
            holds[key] = made(console.api("POST", "/api/holds", "ian", json=hold))
            request = {"reference": f"MET-{key}", "requester": "Met Police", "cameras": cameras, **WINDOW}
            requests[key] = made(console.api("POST", "/api/requests", "ian", json=request))
            exports[key] = made(
                console.api("POST", f"/api/requests/{requests[key]}/approve", "sam"), "export_id"
            )
        yield World(console, holds, requests, exports)


def page(world: World, path: str, user: str) -> str:
    response = world.console.page(path, user)
    assert response.status_code == 200, response.text
    return response.text


def ids(html: str, attribute: str) -> set[int]:
    return {int(i) for i in re.findall(rf'{attribute}="(\d+)"', html)}


def offered(html: str, datalist: str) -> list[str]:
    found = re.search(rf'<datalist id="{datalist}">(.*?)</datalist>', html)
    assert found is not None
    return re.findall(r'<option value="([^"]*)">', found.group(1))


@pytest.mark.parametrize(("user", "scoped"), [("ivy", True), ("ian", False)])
def test_the_holds_page_shows_and_offers_only_the_callers_cameras(
    world: World, user: str, scoped: bool
) -> None:
    html = page(world, "/console/holds", user)
    shown = ids(html, "data-hold-row")
    if scoped:  # gate-1's own hold (and MET-gate-1's, which filing placed); nothing of hall-2
        assert world.holds["gate-1"] in shown and "hall-2" not in html
        assert not shown & {world.holds["hall-2"], world.holds["gate-1+hall-2"]}
    else:
        assert set(world.holds.values()) <= shown and len(shown) == 6  # and the requests' holds
    assert offered(html, "hold-cameras") == (["gate-1"] if scoped else ["gate-1", "hall-2"])


@pytest.mark.parametrize(("user", "scoped"), [("sol", True), ("sam", False)])
def test_the_requests_page_shows_and_offers_only_the_callers_cameras(
    world: World, user: str, scoped: bool
) -> None:
    html = page(world, "/console/requests", user)
    expected = {world.requests["gate-1"]} if scoped else set(world.requests.values())
    assert ids(html, "data-request-row") == expected
    assert ("hall-2" in html) is not scoped
    assert offered(html, "request-cameras") == (["gate-1"] if scoped else ["gate-1", "hall-2"])


@pytest.mark.parametrize(("user", "scoped"), [("sol", True), ("sue", False)])
def test_the_exports_page_lists_only_exports_within_the_callers_cameras(
    world: World, user: str, scoped: bool
) -> None:
    html = page(world, "/console/exports", user)
    expected = {world.exports["gate-1"]} if scoped else set(world.exports.values())
    assert ids(html, "data-export-row") == expected
    assert ids(html, "data-export-download") == expected


def test_the_requests_pager_keeps_the_page_size(world: World) -> None:
    first = page(world, "/console/requests?limit=1", "sam")
    assert len(ids(first, "data-request-row")) == 1
    (older,) = re.findall(r'href="([^"]*)" data-older', first)
    older = older.replace("&amp;", "&")
    assert "limit=1" in older and "offset=1" in older
    second = page(world, older, "sam")
    assert len(ids(second, "data-request-row")) == 1
    previous = re.findall(r'href="([^"]*)">← Previous', second)
    assert previous and "limit=1" in previous[0]
    filtered = page(world, "/console/requests?status=fulfilled&limit=2", "sam")
    (more,) = re.findall(r'href="([^"]*)" data-older', filtered)
    assert "status=fulfilled" in more and "limit=2" in more


def test_a_scoped_user_is_refused_a_hall_2_export_from_the_page_link(tmp_path: Path) -> None:
    for console in open_console(console_settings(tmp_path)):
        request = {"reference": "MET-9", "requester": "Met Police", "cameras": ["hall-2"], **WINDOW}
        rid = made(console.api("POST", "/api/requests", "ian", json=request))
        export = made(console.api("POST", f"/api/requests/{rid}/approve", "sam"), "export_id")
        response = console.api("GET", f"/api/exports/{export}/package", "sol")
        assert response.status_code == 404  # answered as an export that does not exist
        assert response.json()["detail"] == f"no export with id {export}"
        assert console.audited("access.refused")[-1].object == f"export:{export}"
        assert not console.audited("export.download")


def test_the_receipts_page_shows_only_receipts_within_the_callers_cameras(tmp_path: Path) -> None:
    """A hold release's receipt names the hold's reference: none of a hold touching hall-2
    reaches sol (limited to gate-1); the unscoped see them all."""
    for console in open_console(console_settings(tmp_path)):
        released = {}
        for key, cameras in SCOPES.items():
            hold = {"reference": f"case:{key}", "reason": "evidence", "cameras": cameras, **WINDOW}
            hold_id = made(console.api("POST", "/api/holds", "ian", json=hold))
            release = console.api("POST", f"/api/holds/{hold_id}/release", "ian", json={"reason": "closed"})
            assert release.status_code == 200, release.text  # ian's own hold: released at once
            released[key] = release.json()["receipt"]["id"]
        scoped = page(World(console, {}, {}, {}), "/console/receipts", "sol")
        assert ids(scoped, "data-receipt-row") == {released["gate-1"]}
        assert "case:gate-1" in scoped and "case:hall-2" not in scoped
        everyone = page(World(console, {}, {}, {}), "/console/receipts", "sam")
        assert ids(everyone, "data-receipt-row") == set(released.values())
