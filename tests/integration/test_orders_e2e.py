"""Stay-at-home orders end to end on the Hamilton clip (camera `stage`, with a location).

Lin-Manuel Miranda is enrolled on a stay-at-home watchlist bound to an authorisation for
the camera. Without an order he is not matched at all; under an order whose area leaves
out the camera he raises an `order_violation` alert; under one whose area takes it in,
nothing is raised or kept; once his last order ends his templates are gone, with a receipt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.config.ingest import CameraSettings
from citywatch.config.recording import RecordingSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.orders import CircleArea
from citywatch.domain.policy import GeoPoint, ProcessingMode, Window
from citywatch.domain.watchlists import WatchlistCategory
from citywatch.orders.service import NewOrder
from citywatch.runtime.build import Runtime
from citywatch.store.watchlist_tables import FaceTemplate
from citywatch.watchlists.enrolment import Enrolment
from tests.integration.cli_helpers import authorise

LIN = "Lin-Manuel Miranda"
SAM = Actor("sam", "supervisor")
THEATRE = GeoPoint(40.7590, -73.9870)  # the camera
HOME_FAR = CircleArea(GeoPoint(40.8075, -73.9626), 200)  # about 5.8 km from the camera
HOME_NEAR = CircleArea(GeoPoint(40.7592, -73.9868), 100)  # the camera is inside
pytestmark = pytest.mark.slow


def _settings(tmp_path: Path, shared_data: Path) -> Settings:
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    camera = CameraSettings(
        id="stage", url=str(clip), mode=ProcessingMode.WATCHLIST, location=(THEATRE.lat, THEATRE.lon)
    )
    return Settings(
        data_dir=tmp_path / "data",
        models_dir=shared_data / "models",
        cameras=[camera],
        recording=RecordingSettings(enabled=False),
    )


def _watch(settings: Settings) -> list[tuple[str, int | None, str]]:
    """Play the clip through a fresh runtime; (kind, order, person) of every alert so far."""
    rt = Runtime(settings)
    try:
        worker = rt.camera_worker(settings.cameras[0])
        worker.start()
        assert worker.join(240)
        return [(a.kind, a.order_id, a.person_name) for a in rt.alerts.list_alerts(limit=100)]
    finally:
        rt.close()


def _order(rt: Runtime, area: CircleArea) -> int:
    now = datetime.now(UTC)
    window = Window(now - timedelta(hours=1), now + timedelta(days=14))
    return rt.orders.create(NewOrder(LIN, area, window, "HPA 2026/311", "NYC Health"), by=SAM).order.id


def test_a_stay_at_home_order_on_the_hamilton_clip(tmp_path: Path, shared_data: Path) -> None:
    settings = _settings(tmp_path, shared_data)
    rt = Runtime(settings)
    Enrolment(
        store=rt.watchlists, detector=rt.detector, embedder=rt.embedder, quality=rt.settings.quality
    ).enroll(
        name=LIN,
        images=[shared_data / "face_recognition/examples/lin-manuel-miranda.png"],
        watchlist="home-orders",
        category=WatchlistCategory.STAY_AT_HOME,
        source="court file",
        legal_basis="public health order",
        proposer=None,
    )
    rt.close()
    authorise(tmp_path, ["stage"], watchlist="home-orders")

    assert _watch(settings) == [], "no order: a stay-at-home person is not looked for"

    rt = Runtime(settings)
    far = _order(rt, HOME_FAR)
    rt.close()
    alerts = _watch(settings)
    assert alerts and set(alerts) == {("order_violation", far, LIN)}

    rt = Runtime(settings)
    near = _order(rt, HOME_NEAR)
    _, kept = rt.orders.end(far, by=SAM)
    assert kept is None, "the order still in force keeps his templates"
    sightings_before = len(rt.sightings.list_sightings(limit=1000))
    rt.close()
    assert _watch(settings) == alerts, "inside the area: nothing raised"
    rt = Runtime(settings)
    assert len(rt.sightings.list_sightings(limit=1000)) == sightings_before, "and nothing kept"

    _, receipt = rt.orders.end(near, by=SAM)
    assert receipt is not None and receipt.counts["templates"] == 1
    with rt.database.session(write=False) as session:
        assert session.query(FaceTemplate).count() == 0
    assert [r.kind for r in rt.purger.receipts()][:1] == ["order"]
    rt.close()
