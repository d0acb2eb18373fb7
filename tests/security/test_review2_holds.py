"""Review 2 of what one person holds alone: a hold that names footage item by item (every
recording of every camera) instead of cameras over a window was judged by nothing, so one
investigator kept every camera's footage for good, alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.config.ingest import CameraSettings
from citywatch.store.tables import RecordingRow
from tests.api.harness import Api, api_settings, open_api

CAMERAS = ["gate-1", "gate-2", "hall", "yard"]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = api_settings(tmp_path)
    cams = [CameraSettings(id=c, url=str(tmp_path / f"{c}.mp4")) for c in CAMERAS]
    yield from open_api(settings.model_copy(update={"cameras": cams}))


def _recordings(api: Api, cameras: list[str], hours: int) -> list[int]:
    """An hour of footage per camera for each of the last `hours` hours."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with api.rt.database.session() as session:
        rows = []
        for camera in cameras:
            for h in range(1, hours + 1):
                start = now - timedelta(hours=h)
                rows.append(
                    RecordingRow(
                        camera_id=camera,
                        day=start.date().isoformat(),
                        started_at=start,
                        ended_at=start + timedelta(hours=1),
                        path=f"{camera}/{h}.mp4",
                        size=1,
                        sha256="0" * 64,
                        created_at=start,
                    )
                )
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def _hold(ids: list[int], reference: str = "case:every") -> dict[str, object]:
    return {
        "reference": reference,
        "reason": "keep it all",
        "items": [{"kind": "recording", "id": i} for i in ids],
    }


def test_naming_every_cameras_recordings_waits_as_a_city_wide_hold_would(api: Api) -> None:
    ids = _recordings(api, CAMERAS, 3)
    placed = api.call("POST", "/api/holds", "ian", json=_hold(ids))
    assert placed.status_code == 201, placed.text
    assert placed.json()["awaiting_change"] is not None  # 4 of 4 cameras, alone
    (why,) = [e.params["why"] for e in api.rt.audit_log.entries() if e.action == "change.propose"]
    assert "4 of the 4 cameras" in why[0]


def test_naming_three_weeks_of_one_cameras_recordings_waits_as_a_long_hold_would(api: Api) -> None:
    ids = _recordings(api, ["hall"], 21 * 24)
    placed = api.call("POST", "/api/holds", "ian", json=_hold(ids))
    assert placed.status_code == 201, placed.text
    assert placed.json()["awaiting_change"] is not None
    (why,) = [e.params["why"] for e in api.rt.audit_log.entries() if e.action == "change.propose"]
    assert "camera hall is held over 21.0 days" in why[0]


def test_recordings_named_in_holds_one_at_a_time_count_together(api: Api) -> None:
    ids = _recordings(api, CAMERAS, 1)
    first = api.call("POST", "/api/holds", "ian", json=_hold(ids[:2], "case:a"))  # gate-1, gate-2
    assert first.status_code == 201 and first.json()["awaiting_change"] is None, first.text
    third = api.call("POST", "/api/holds", "ian", json=_hold(ids[2:3], "case:b"))  # hall
    assert third.status_code == 201 and third.json()["awaiting_change"] is not None


def test_a_few_recordings_are_held_alone(api: Api) -> None:
    ids = _recordings(api, ["hall"], 5)
    placed = api.call("POST", "/api/holds", "ian", json=_hold(ids))
    assert placed.status_code == 201 and placed.json()["awaiting_change"] is None, placed.text
