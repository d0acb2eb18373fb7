"""Raising alerts: one per person per camera episode (a cooldown, stored but not alerted),
severity copied from the watchlist, and a dismissed false match starting no cooldown."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from citywatch.domain.errors import InvalidInput
from citywatch.domain.records import Severity
from citywatch.store.blobs import LocalBlobStore
from tests.fakes.stores import Stores
from tests.fakes.two_person_env import ANN, TwoPersonEnv, two_person_env
from tests.store.helpers import T0, a_match, sighting, vector

COOLDOWN_S = 300.0


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TwoPersonEnv]:
    e = two_person_env(tmp_path)
    e.store.watchlists.create_watchlist("wanted", severity="high")
    e.store.watchlists.add_person("wanted", "Ann Example")  # person 1 on watchlist 1
    e.store.watchlists.add_person("wanted", "Bea Example")  # person 2
    yield e
    e.close()


@pytest.fixture
def store(env: TwoPersonEnv, tmp_path: Path) -> Stores:
    """The env's database, with the configured default cooldown."""
    return Stores(env.db, LocalBlobStore(tmp_path / "blobs"), alert_cooldown_s=COOLDOWN_S)


S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("camera", "person", "after", "alerts"),
    [
        ("cam-1", 1, 10 * S, False),  # the same episode
        ("cam-1", 1, 299 * S, False),
        ("cam-1", 1, -10 * S, False),  # stored late (after a retry): still the same episode
        ("cam-1", 1, 300 * S, True),  # the cooldown has passed
        ("cam-1", 2, 10 * S, True),  # another person
        ("gate", 1, 10 * S, True),  # another camera
    ],
)
def test_one_alert_per_person_per_camera_episode(
    store: Stores, camera: str, person: int, after: timedelta, alerts: bool
) -> None:
    first = store.sightings.add_sighting(sighting(match=a_match(1, 1), start=T0))
    assert first.alert_id is not None and first.cooldown_of is None
    again = store.sightings.add_sighting(
        sighting(camera_id=camera, match=a_match(person, 1), start=T0 + after)
    )
    assert (again.alert_id is not None) is alerts
    (row,) = [s for s in store.sightings.list_sightings() if s.id == again.sighting_id]
    assert row.person_id == person  # stored as the match it is, either way
    if alerts:
        assert again.cooldown_of is None and row.decision == "match"
    else:
        assert again.cooldown_of == first.alert_id
        assert row.decision == f"match; alert suppressed: cooldown of alert {first.alert_id}"


def test_someone_who_lingers_raises_one_alert_until_they_are_gone_for_a_cooldown(store: Stores) -> None:
    """Seen every 200 s for 10 minutes: one episode, one alert; then away for longer than the
    cooldown and back: a new episode."""
    first = store.sightings.add_sighting(sighting(match=a_match(1, 1), start=T0))
    lingering = [
        store.sightings.add_sighting(sighting(match=a_match(1, 1), start=T0 + k * 200 * S)) for k in (1, 2, 3)
    ]
    assert [s.cooldown_of for s in lingering] == [first.alert_id] * 3
    assert all(s.alert_id is None for s in lingering)
    back = store.sightings.add_sighting(sighting(match=a_match(1, 1), start=T0 + (600 + 300) * S))
    assert back.alert_id is not None and back.cooldown_of is None


def test_no_cooldown_when_it_is_zero(env: TwoPersonEnv) -> None:
    saved = [
        env.store.sightings.add_sighting(sighting(match=a_match(1, 1), start=T0 + i * S)) for i in range(3)
    ]
    assert all(s.alert_id is not None for s in saved)


def test_a_false_match_starts_no_cooldown(env: TwoPersonEnv, store: Stores) -> None:
    """Somebody else was taken for Ann; Ann herself coming by a minute later still alerts."""
    wrong = store.sightings.add_sighting(sighting(match=a_match(1, 1), template=vector(1), start=T0))
    assert wrong.alert_id is not None
    env.alerts.dismiss(wrong.alert_id, ANN, "her sister", false_match=True)
    ann = store.sightings.add_sighting(sighting(match=a_match(1, 1), template=vector(2), start=T0 + 60 * S))
    assert ann.alert_id is not None and ann.cooldown_of is None
    # dismissed for another reason, the episode goes on: no new alert
    env.alerts.dismiss(ann.alert_id, ANN, "known, nothing to do")
    later = store.sightings.add_sighting(sighting(match=a_match(1, 1), template=vector(2), start=T0 + 90 * S))
    assert later.alert_id is None and later.cooldown_of == ann.alert_id


def test_an_alert_carries_its_watchlists_severity(env: TwoPersonEnv) -> None:
    first = env.store.sightings.add_sighting(sighting(match=a_match(1, 1)))
    env.store.watchlists.set_watchlist_severity("wanted", "critical")
    second = env.store.sightings.add_sighting(sighting(camera_id="gate", match=a_match(1, 1)))
    by_id = {a.id: a.severity for a in env.store.alerts.list_alerts()}
    assert (by_id[first.alert_id], by_id[second.alert_id]) == (Severity.HIGH, Severity.CRITICAL)  # type: ignore[index]
    assert env.store.watchlists.get_watchlist("wanted").severity is Severity.CRITICAL
    (changed,) = env.records("watchlist.severity")
    assert changed.params == {"watchlist": "wanted", "from": "high", "to": "critical"}
    (created,) = env.records("watchlist.create")
    assert created.params["severity"] == "high"
    # an alert whose watchlist is unknown (removed since) is raised at the default
    orphan = env.store.sightings.add_sighting(sighting(camera_id="yard", match=a_match(1, 99)))
    assert {a.id: a.severity for a in env.store.alerts.list_alerts()}[orphan.alert_id] is Severity.MEDIUM  # type: ignore[index]


@pytest.mark.parametrize("level", ["urgent", "", "HIGH"])
def test_an_unknown_severity_is_refused(env: TwoPersonEnv, level: str) -> None:
    with pytest.raises(InvalidInput, match="is not one of low, medium, high, critical"):
        env.store.watchlists.set_watchlist_severity("wanted", level)
    with pytest.raises(InvalidInput, match="severity"):
        env.store.watchlists.create_watchlist("other", severity=level)
