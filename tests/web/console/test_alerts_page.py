"""The alert feed page: server-rendered cards for stored alerts within the caller's camera
scope, each with its best shot, watchlist image, similarity and margin; actions only for
those who may act; the card fragment the live feed adds; sign-in and permission refusals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import event

from citywatch.web.console.alerts import cards_of
from tests.web.console.harness import SCOPED, Console, console_settings, open_console


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    yield from open_console(console_settings(tmp_path))


def card_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-alert-id="(\d+)" data-status', html)]


def test_the_feed_shows_each_alert_with_both_images_similarity_and_margin(console: Console) -> None:
    alert_id = console.alert("gate-1")
    alert = console.rt.alerts.get_alert(alert_id)
    sighting = console.rt.sightings.get_sighting(alert.sighting_id)

    page = console.get("/console/alerts", "olga")

    assert page.status_code == 200, page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert card_ids(html) == [alert_id]
    assert f'data-alert-id="{alert_id}" data-status="new"' in html
    assert f'src="/api/sightings/{alert.sighting_id}/crop"' in html  # the best shot …
    assert f'src="/api/persons/{alert.person_id}/reference"' in html  # … next to the watchlist image
    assert f'data-value="{1 - alert.distance:.4f}"' in html  # similarity
    assert sighting.margin is not None and f'data-value="{sighting.margin:.4f}"' in html
    assert "matches below 0.600" in html  # the threshold in force (the default)
    for name in ("acknowledge", "confirm", "dismiss", "dismiss-submit"):
        assert f'name="{name}"' in html
    assert "false match" in html.lower()
    assert '<script src="/static/alerts.js" defer></script>' in html
    assert "<script>" not in html and "onclick" not in html and "style=" not in html
    viewed = console.audited("alert.view")
    assert viewed and viewed[-1].actor == "olga" and viewed[-1].params["ids"] == [alert_id]


def test_who_may_not_act_sees_no_buttons(console: Console) -> None:
    console.alert("gate-1")
    html = console.get("/console/alerts", "ada").text  # admin: alerts.read without alerts.act
    assert card_ids(html)
    assert 'name="confirm"' not in html and 'name="dismiss"' not in html


def test_an_operator_limited_to_one_camera_sees_only_its_alerts(console: Console) -> None:
    mine = console.alert("gate-1")
    console.alert("hall-2")

    page = console.get("/console/alerts", SCOPED)
    assert card_ids(page.text) == [mine]
    assert 'value="hall-2"' not in page.text  # not even offered as a filter

    refused = console.get("/console/alerts?camera=hall-2", SCOPED)
    assert refused.status_code == 404  # answered as a camera that does not exist
    assert "text/html" in refused.headers["content-type"]
    assert "within your scope" in refused.text and "hall-2" in refused.text
    other = console.rt.alerts.alerts_page(10, camera_id="hall-2")[0].id
    assert console.get(f"/console/alerts/{other}/card", SCOPED).status_code == 404


def test_camera_and_status_filters_and_cursor_paging(console: Console) -> None:
    ids = [console.alert("gate-1") for _ in range(3)] + [console.alert("hall-2")]
    assert card_ids(console.get("/console/alerts?camera=gate-1&status=", "olga").text) == ids[2::-1]
    assert card_ids(console.get("/console/alerts?camera=&status=confirmed", "olga").text) == []

    first = console.get("/console/alerts?limit=2", "olga").text
    assert card_ids(first) == [ids[3], ids[2]]
    assert f'before_id={ids[2]}"' in first
    second = console.get(f"/console/alerts?limit=2&before_id={ids[2]}", "olga").text
    assert card_ids(second) == [ids[1], ids[0]]
    assert 'data-live="no"' in second  # an older page does not follow the live feed
    assert console.get("/console/alerts?status=nonsense", "olga").status_code == 422


def test_the_card_fragment_is_what_the_live_feed_adds(console: Console) -> None:
    alert_id = console.alert("gate-1")
    card = console.get(f"/console/alerts/{alert_id}/card", "olga")
    assert card.status_code == 200
    assert card.text.lstrip().startswith("<article")
    assert card_ids(card.text) == [alert_id]
    assert "<html" not in card.text
    assert console.audited("alert.view")[-1].object == f"alert:{alert_id}"


def test_review_steps_show_who_did_them(console: Console) -> None:
    alert_id = console.alert("gate-1")
    for user in ("sam", "sue"):
        response = console.post(f"/api/alerts/{alert_id}/confirm", user)
        assert response.status_code == 200, response.text
    card = console.get(f"/console/alerts/{alert_id}/card", "olga").text
    assert 'data-status="confirmed"' in card
    assert "sam, sue" in card and "(2 of 2)" in card
    assert 'name="confirm"' not in card  # final: nothing left to do

    dismissed = console.alert("gate-1")
    body = {"reason": "not her", "false_match": True}
    assert console.post(f"/api/alerts/{dismissed}/dismiss", "olga", json=body).status_code == 200
    card = console.get(f"/console/alerts/{dismissed}/card", "olga").text
    assert 'data-status="dismissed"' in card and "dismissed by <b>olga</b>" in card
    assert "false match: not her" in card


def test_the_same_person_confirming_twice_is_refused_in_the_apis_words(console: Console) -> None:
    alert_id = console.alert("gate-1")
    assert console.post(f"/api/alerts/{alert_id}/confirm", "olga").status_code == 200
    again = console.post(f"/api/alerts/{alert_id}/confirm", "olga")
    assert again.status_code == 403
    assert again.json()["detail"]  # what alerts.js shows through citywatch.notice
    card = console.get(f"/console/alerts/{alert_id}/card", "sam").text
    assert "confirmed by <b>olga</b> (1 of 2)" in card


def test_without_a_session_the_browser_is_sent_to_sign_in(console: Console) -> None:
    response = console.get("/console/alerts?camera=gate-1", None)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/console/alerts%3Fcamera%3Dgate-1"


@pytest.mark.parametrize("user", ["ian", "aude"])  # investigator, auditor: no alerts.read
def test_a_role_without_alerts_read_gets_the_not_allowed_page(console: Console, user: str) -> None:
    response = console.get("/console/alerts", user)
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert "Not allowed" in response.text and "alerts.read" in response.text


def test_a_page_of_cards_reads_the_margins_at_once_and_says_which_faces_are_gone(
    console: Console,
) -> None:
    for _ in range(21):
        console.alert("hall-2")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = console.rt.database.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        html = console.get("/console/alerts", "olga").text
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(card_ids(html)) == 21
    assert sum("FROM sightings" in s for s in statements) == 1  # one query, not one per card

    alert = console.rt.alerts.get_alert(card_ids(html)[0])
    gone = replace(alert, id=alert.id + 1000, sighting_id=alert.sighting_id + 1000)  # purged since
    kept, purged = cards_of(console.rt, [alert, gone])
    assert (kept.crop, purged.crop, purged.margin) == (True, False, None)
    assert kept.margin == console.rt.sightings.get_sighting(alert.sighting_id).margin
