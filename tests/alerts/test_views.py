"""Every way an alert is read enforces the end of authorisations first: an alert derived
under an urgent authorisation that was refused is gone before anyone looks, whether read
one at a time (`view_one`), a page at a time (`view_page`) or replayed to a live stream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.alerts.views import view_one, view_page
from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.errors import NotFound
from citywatch.domain.matching import MatchResult
from citywatch.domain.policy import AuthorisationStatus
from citywatch.governance.records import NewAuthorisation
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.runtime.usecases import alert_views
from citywatch.web.api.alerts import _missed
from tests.store.helpers import a_match, sighting

SAM = Actor("sam", "supervisor")
SUE = Actor("sue", "supervisor")
OLGA = Actor("olga", "operator", frozenset({"gate-1"}))


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(
        Settings(data_dir=tmp_path / "data", cameras=[CameraSettings(id="gate-1", url="rtsp://gate")])
    )
    yield runtime
    runtime.close()


def refused_alert(
    rt: Runtime,
    *,
    camera: str = "gate-1",
    track: int = 1,
    match: MatchResult | None = None,
    order_id: int | None = None,
    reference: str = "U-1",
) -> int:
    """An alert (of `match`, default a new person's on a `missing` list) derived under an
    urgent authorisation that has since been refused: still on record until
    `governance.enforce()` runs, which takes it (with its sighting) away."""
    now = datetime.now(UTC)
    rt.governance.request(
        NewAuthorisation(
            reference=reference,
            issuer="District Court",
            legal_basis=f"warrant {reference}",
            objective="find a missing person",
            cameras=[camera],
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=1),
            urgent=True,
        ),
        by=SAM,
        urgent_deadline=timedelta(hours=24),
    )
    if not any(w.name == "missing" for w in rt.watchlists.list_watchlists()):
        rt.watchlists.create_watchlist("missing")
    missing = rt.watchlists.get_watchlist("missing")
    person = rt.watchlists.add_person("missing", f"Person {track}")
    record = sighting(
        camera_id=camera,
        track_id=track,
        match=a_match(person.id, missing.id, person_name=person.display_name),
    )
    auth_id = rt.governance.authorisation(reference).authorisation.id
    saved = rt.sightings.add_sighting(replace(record, authorisation_id=auth_id, order_id=order_id))
    assert saved.alert_id is not None
    rt.governance.decide(reference, AuthorisationStatus.REFUSED, by=SUE, note="no grounds")
    assert rt.alerts.get_alert(saved.alert_id)  # on record until the end is enforced
    return saved.alert_id


def test_one_alert_is_not_shown_once_its_authorisation_was_refused(rt: Runtime) -> None:
    alert_id = refused_alert(rt)
    with pytest.raises(NotFound):
        view_one(alert_views(rt), OLGA, alert_id, asked=f"api:/api/alerts/{alert_id}")
    assert not [e for e in rt.audit_log.entries() if e.action == "alert.view"]


def test_a_page_of_alerts_leaves_out_what_a_refused_authorisation_derived(rt: Runtime) -> None:
    refused_alert(rt)
    assert view_page(alert_views(rt), OLGA, limit=10, asked="api:/api/alerts") == []


def test_the_live_streams_replay_leaves_out_what_a_refused_authorisation_derived(rt: Runtime) -> None:
    refused_alert(rt)
    assert _missed(rt, OLGA, 0) == []
