"""The orders page: each order with its area, window, legal reference, authority, status and
the cameras that check it; a supervisor records, ends and revokes orders and notes on their
violation alerts (through the API, as the page's script does) while an operator or auditor
only reads; violation alerts honour the reader's camera scope and are audited when shown."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citywatch.domain.audit import Actor
from citywatch.domain.orders import CircleArea
from citywatch.domain.policy import GeoPoint, Window
from citywatch.domain.records import NewReference
from citywatch.orders.service import NewOrder
from tests.alerts.test_views import refused_alert
from tests.store.helpers import JPEG_STUB, MODEL, a_match, sighting
from tests.web.console.pages_harness import GATE, Console, console_settings, open_console

SAM = Actor("sam", "supervisor")


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    yield from open_console(console_settings(tmp_path))


def stay_at_home(console: Console, name: str) -> int:
    """A person enrolled on the `home` list (stay_at_home), active at once."""
    console.rt.watchlists.ensure_watchlist("home", "stay_at_home")
    vector = np.ones(8, np.float32) / np.sqrt(8)
    ref = NewReference(JPEG_STUB, ".jpg", "court file", "public health order", MODEL, vector)
    return console.rt.watchlists.enroll([ref], watchlist_name="home", display_name=name).id


def an_order(console: Console, name: str = "Pat Doe", reference: str = "HPA 2026/7") -> int:
    now = datetime.now(UTC)
    order = NewOrder(
        name,
        CircleArea(GeoPoint(*GATE), 150),
        Window(now - timedelta(hours=1), now + timedelta(days=14)),
        reference,
        "city health",
    )
    return console.rt.orders.create(order, by=SAM).order.id


def violation(console: Console, order_id: int, person: int, camera: str, track: int) -> int:
    """An `order_violation` alert: the person seen by `camera` outside the area."""
    home = console.rt.watchlists.get_watchlist("home")
    match = a_match(person, home.id, person_name="Pat Doe", watchlist_name="home")
    record = replace(sighting(camera_id=camera, track_id=track, match=match), order_id=order_id)
    saved = console.rt.sightings.add_sighting(record)
    assert saved.alert_id is not None
    return saved.alert_id


CIRCLE: dict[str, Any] = {
    "person": "Pat Doe",
    "legal_reference": "Magistrates' Court 2026/311",
    "issuing_authority": "Magistrates' Court",
    "area": {"center": {"lat": GATE[0], "lon": GATE[1]}, "radius_m": 150},
}


def test_an_operator_reads_the_orders_and_which_cameras_check_them(console: Console) -> None:
    stay_at_home(console, "Pat Doe")
    console.authorise("W-HOME", ["gate-1"], watchlists=("home",))
    order = an_order(console)

    page = console.page("/console/orders", "olga")
    assert page.status_code == 200
    html = page.text
    assert f'data-order-id="{order}" data-status="active"' in html
    assert "Pat Doe" in html and "HPA 2026/7" in html and "city health" in html
    assert "within 150 m of 51.500700,-0.124600" in html
    checked = html[html.index('data-field="checked-by"') :]
    assert 'data-camera="gate-1"' in checked[: checked.index("</dd>")]
    assert "<circle" in html and 'class="order-sketch"' in html  # the area, drawn
    assert 'data-action="end"' not in html and 'name="order"' not in html  # read only
    assert '<script src="/static/orders.js" defer></script>' in html


def test_an_order_no_camera_checks_says_so(console: Console) -> None:
    stay_at_home(console, "Pat Doe")
    an_order(console)  # no authorisation binds `home`: nothing identifies against it
    html = console.page("/console/orders", "aude").text  # the auditor reads orders too
    assert "no camera checks it now" in html


def test_only_who_may_record_orders_gets_the_stay_at_home_persons_looked_up(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    stay_at_home(console, "Pat Doe")
    store = console.rt.watchlists
    looked_up: list[object] = []
    list_persons = store.list_persons

    def counted(*args: Any, **kwargs: Any) -> Any:
        looked_up.append(args)
        return list_persons(*args, **kwargs)

    monkeypatch.setattr(store, "list_persons", counted)
    for reader in ("olga", "aude"):  # they get no new-order form: nothing to offer in it
        assert 'value="Pat Doe"' not in console.page("/console/orders", reader).text
    assert looked_up == []
    assert 'value="Pat Doe"' in console.page("/console/orders", "sam").text
    assert looked_up


def test_a_supervisor_records_a_circle_and_a_polygon_ends_and_revokes(console: Console) -> None:
    stay_at_home(console, "Pat Doe")
    stay_at_home(console, "Max Roe")
    form = console.page("/console/orders", "sam").text
    assert 'name="order"' in form and 'value="Pat Doe"' in form  # offered from the stay-at-home list

    ends = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    circle = console.api("POST", "/api/orders", "sam", json={**CIRCLE, "ends_at": ends})
    assert circle.status_code == 201, circle.text
    corners = [{"lat": 51.501, "lon": -0.125}, {"lat": 51.501, "lon": -0.124}, {"lat": 51.5, "lon": -0.124}]
    polygon = console.api(
        "POST",
        "/api/orders",
        "sam",
        json={**CIRCLE, "person": "Max Roe", "ends_at": ends, "area": {"polygon": corners}},
    )
    assert polygon.status_code == 201, polygon.text
    first, second = circle.json()["id"], polygon.json()["id"]

    page = console.page("/console/orders", "sam").text
    assert f'data-action="end" data-order-id="{first}"' in page
    assert f'data-action="revoke" data-order-id="{second}"' in page
    assert "inside a polygon of 3 points" in page and "<polygon" in page

    assert console.api("POST", f"/api/orders/{first}/end", "sam").status_code == 200
    assert console.api("POST", f"/api/orders/{second}/revoke", "sam").status_code == 200
    active = console.page("/console/orders", "sam").text
    assert 'data-empty="orders"' in active
    every = console.page("/console/orders?all=1", "sam").text
    assert f'data-order-id="{first}" data-status="ended"' in every
    assert f'data-order-id="{second}" data-status="revoked"' in every
    assert 'data-action="end"' not in every


def test_violations_and_their_notes_honour_the_camera_scope_and_are_audited(console: Console) -> None:
    pat = stay_at_home(console, "Pat Doe")
    order = an_order(console)
    at_gate = violation(console, order, pat, "gate-1", 1)
    at_hall = violation(console, order, pat, "hall-2", 2)
    noted = console.api(
        "POST", f"/api/alerts/{at_gate}/notes", "sam", json={"kind": "notice", "text": "told"}
    )
    assert noted.status_code == 201, noted.text

    everyone = console.page("/console/orders", "sam").text
    assert f'data-alert-id="{at_gate}"' in everyone and f'data-alert-id="{at_hall}"' in everyone
    assert 'data-note-kind="notice"' in everyone and "told" in everyone
    assert f'data-api="POST /api/alerts/{at_gate}/notes"' in everyone
    [shown] = console.audited("alert.view")
    assert shown.actor == "sam" and sorted(shown.params["ids"]) == sorted([at_gate, at_hall])

    scoped = console.page("/console/orders", "sol").text  # a supervisor limited to gate-1
    assert f'data-alert-id="{at_gate}"' in scoped and f'data-alert-id="{at_hall}"' not in scoped
    operator = console.page("/console/orders", "olga").text  # reads orders, not their alerts here
    assert "data-alert-id" not in operator


def test_signed_out_goes_to_sign_in_and_a_role_without_the_permission_is_refused(console: Console) -> None:
    signed_out = console.page("/console/orders", None)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login?next=/console/orders"
    refused = console.page("/console/orders", "ian")  # investigators have no orders.read
    assert refused.status_code == 403 and "Not allowed" in refused.text


def test_a_violation_derived_under_a_refused_authorisation_is_not_shown(console: Console) -> None:
    """The page reads violation alerts after what a lapsed authorisation derived is gone (not
    only when the policy's snapshot, which the cameras' coverage reads, happens to reload)."""
    pat = stay_at_home(console, "Pat Doe")
    order = an_order(console)
    kept = violation(console, order, pat, "gate-1", 1)
    console.rt.policy.snapshot()  # loaded before the refusal: it holds until `policy.refresh_s`
    home = console.rt.watchlists.get_watchlist("home")
    match = a_match(pat, home.id, person_name="Pat Doe", watchlist_name="home")
    gone = refused_alert(console.rt, camera="hall-2", track=2, match=match, order_id=order)
    html = console.page("/console/orders", "sam").text
    assert f'data-alert-id="{kept}"' in html and f'data-alert-id="{gone}"' not in html
    [shown] = console.audited("alert.view")
    assert shown.params["ids"] == [kept]
