"""The public pages, no sign-in: the transparency report shows the API's counts as bars and
never a name; the subject-access form asks for what the public route takes and says what
the photo is for and when it goes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from citywatch.web.api.requests import _PUBLIC_FORM_BODY
from tests.web.console.pages_harness import Console, console_settings, open_console

NOW = datetime.now(UTC)
NAMES = ("Jane Example", "Metropolitan Police, DC Shaw", "dc.shaw@example.org", "MET-77", "case:2026-0412")
"""Who asked and for what: never on a public page."""


def _iso(delta_h: float) -> str:
    return (NOW + timedelta(hours=delta_h)).isoformat()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    for console in open_console(console_settings(tmp_path_factory.mktemp("public"))):
        window = {"cameras": ["gate-1"], "starts_at": _iso(-2), "ends_at": _iso(-1)}
        hold = {"reference": "case:2026-0412", "reason": "evidence", "requester": "Jane Example", **window}
        assert console.api("POST", "/api/holds", "ian", json=hold).status_code == 201
        request = {"reference": "MET-77", "requester": NAMES[1], "contact": NAMES[2], **window}
        filed = console.api("POST", "/api/requests", "ian", json=request)
        assert filed.status_code == 201
        refused = console.api(
            "POST", f"/api/requests/{filed.json()['id']}/refuse", "sam", json={"reason": "no"}
        )
        assert refused.status_code == 200
        yield console


def public_page(console: Console, path: str) -> str:
    response = console.page(path, None)
    assert response.status_code == 200, response.text
    html = response.text
    assert "<script>" not in html and " style=" not in html and " on" + "click" not in html  # the CSP's rules
    for name in NAMES:
        assert name not in html, name
    return html


def bars(html: str, chart: str) -> dict[str, int]:
    table = re.search(rf'data-chart="{chart}">(.*?)</table>', html, re.S)
    assert table is not None, chart
    return {
        label: int(v) for label, v in re.findall(r'data-bar="([^"]*)" data-value="(\d+)"', table.group(1))
    }


def test_the_transparency_report_shows_the_apis_counts_without_a_name(console: Console) -> None:
    html = public_page(console, "/transparency")
    report: dict[str, Any] = console.api("GET", "/api/transparency", "aude").json()
    assert 'href="/request"' in html and 'href="/login"' in html  # the header of a signed-out visitor

    assert f'data-figure="configured">{report["cameras"]["configured"]}<' in html
    assert f'data-figure="identifying">{report["cameras"]["identifying"]}<' in html
    assert bars(html, "modes") == report["cameras"]["by_mode"]
    assert f'data-figure="holds">{report["holds"]["in_force"]}<' in html
    assert bars(html, "holds") == report["holds"]["by_reference"] == {"request": 0, "case": 1}
    assert bars(html, "law-enforcement") == {
        c["status"]: c["count"] for c in report["requests"] if c["kind"] == "law_enforcement"
    }
    assert bars(html, "law-enforcement") == {"refused": 1}
    deleted = bars(html, "deleted")
    assert deleted == {k.replace("_", " "): v for k, v in report["deleted"].items()}
    assert set(deleted) >= {"sightings", "footage", "audit", "non matches"}
    assert bars(html, "receipts") == {k["kind"].replace("_", " "): k["receipts"] for k in report["by_kind"]}
    assert bars(html, "receipts")["hold release"] == 1  # the refusal released its request's hold


def test_each_bar_is_an_svg_rect_as_long_as_its_share_of_the_largest(console: Console) -> None:
    html = public_page(console, "/transparency")
    table = re.search(r'data-chart="modes">(.*?)</table>', html, re.S)
    assert table is not None
    rows = re.findall(r'data-value="(\d+)".*?class="bar-fill"[^>]*width="([\d.]+)"', table.group(1), re.S)
    values = [(int(v), float(w)) for v, w in rows]
    top = max(v for v, _ in values)
    assert values and all(abs(w - 100 * v / top) < 0.1 for v, w in values)


def test_the_report_for_a_period_and_a_period_that_ends_before_it_starts(console: Console) -> None:
    past = public_page(console, "/transparency?since=2000-01-01&until=2000-02-01")
    assert bars(past, "receipts")["hold release"] == 0 and "No requests in this period" in past
    assert 'value="2000-01-01"' in past and 'data-figure="holds">1<' in past  # holds: as they stand now
    backwards = public_page(console, "/transparency?since=2026-02-01&until=2026-01-01")
    assert 'role="alert"' in backwards and "showing everything instead" in backwards
    assert console.page("/transparency?since=soon", None).status_code == 422


def test_a_signed_in_reader_keeps_the_consoles_navigation_on_the_public_pages(console: Console) -> None:
    html = console.page("/transparency", "aude").text
    assert 'href="/console/audit"' in html and "Sign out" in html


def test_the_public_request_form_asks_for_what_the_public_route_takes(console: Console) -> None:
    html = public_page(console, "/request")
    form = re.search(r"<form data-public-request(.*?)</form>", html, re.S)
    assert form is not None
    fields = set(re.findall(r'name="([a-z_]+)"', form.group(1)))
    schema = _PUBLIC_FORM_BODY["content"]["multipart/form-data"]["schema"]  # type: ignore[index]
    assert fields == set(schema["required"]) == set(schema["properties"])
    assert 'type="file"' in form.group(1) and 'data-photo-max-mb="8.0"' in html
    cameras = re.findall(r'name="cameras" value="([^"]+)"', form.group(1))
    assert cameras == ["gate-1", "hall-2"] and "North gate" in html
    assert "/static/public_request.js" in html
    for hidden in ("data-request-result", "data-request-error"):
        assert re.search(rf"{hidden}[^>]*hidden", html), hidden
    # what the photo is for and when it is deleted, in words
    assert "only</strong> to find you" in html and "then deleted" in html
    assert "never added to any watchlist" in html


def test_the_form_script_posts_to_the_public_route_and_explains_each_refusal(console: Console) -> None:
    script = console.page("/static/public_request.js", None).text
    assert '"/api/public/requests"' in script and "new FormData()" in script
    for status in (413, 422, 429, 503):
        assert f"case {status}:" in script
