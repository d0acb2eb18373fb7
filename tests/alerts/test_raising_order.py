"""Alerts commit in the order of their ids, however many sightings are stored at once: a
sighting that may raise an alert waits for the one before it to commit. On PostgreSQL
(CITYWATCH_TEST_DATABASE=postgresql) that is the raising queue's advisory lock; on SQLite the
write transaction. Without it, a later alert could commit first, and a live feed replaying
from its id would never see the earlier one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from citywatch.alerts import raising
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.sighting_tables import Alert
from tests.databases import on_postgresql
from tests.fakes.stores import Stores
from tests.fakes.two_person_env import TwoPersonEnv, two_person_env
from tests.store.helpers import T0, a_match, sighting


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TwoPersonEnv]:
    e = two_person_env(tmp_path)
    e.store.watchlists.create_watchlist("wanted")
    e.store.watchlists.add_person("wanted", "Ann Example")  # person 1 on watchlist 1
    e.store.watchlists.add_person("wanted", "Bea Example")  # person 2
    yield e
    e.close()


def _race(env: TwoPersonEnv, tmp_path: Path) -> list[tuple[str, int]]:
    """Ann's sighting raises its alert first and holds its transaction open while Bea's is
    stored; the (camera, alert id) in the order they committed."""
    inside = threading.Event()
    committed: list[tuple[str, int]] = []

    def hold_the_first(_session: Session, alert: Alert) -> None:
        if alert.camera_id == "cam-1":
            inside.set()
            # the second writer either waits for this commit (as it must) or commits meanwhile
            second.join(timeout=2)

    store = Stores(env.db, LocalBlobStore(tmp_path / "blobs"), on_alert=hold_the_first)

    def add(camera: str, person: int) -> None:
        saved = store.sightings.add_sighting(sighting(camera_id=camera, match=a_match(person, 1), start=T0))
        assert saved.alert_id is not None
        committed.append((camera, saved.alert_id))

    first = threading.Thread(target=add, args=("cam-1", 1))
    second = threading.Thread(target=lambda: (inside.wait(10), add("gate", 2)))
    first.start()
    second.start()
    first.join(30)
    second.join(30)
    return committed


def test_alerts_commit_in_the_order_of_their_ids(env: TwoPersonEnv, tmp_path: Path) -> None:
    committed = _race(env, tmp_path)
    assert [camera for camera, _ in committed] == ["cam-1", "gate"]
    assert committed[0][1] < committed[1][1]


@pytest.mark.skipif(not on_postgresql(), reason="SQLite's write lock queues writers by itself")
def test_without_the_queue_a_later_alert_commits_first_on_postgresql(
    env: TwoPersonEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raising, "serialise", lambda _session, _key: None)
    committed = _race(env, tmp_path)
    (first_camera, first_id), (_, second_id) = committed
    assert first_camera == "gate" and second_id < first_id  # the gap a replay would miss
