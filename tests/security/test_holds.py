"""Issue 13, finding 4: holds that protect what they are for, attacked through the API in
process (tests.web.api.harness) and the command line.

A request's hold is released only by the request's decision; another person's hold only
with a reason and a second person; a hold's cameras must exist and its window is bounded;
a city-wide or long hold waits for a second person (and protects meanwhile, for a while)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime
from citywatch.store.retention_tables import RecordingRow
from tests.databases import stray_settings
from tests.fakes.accounts import own_token
from tests.integration.cli_helpers import cli_env
from tests.integration.cli_helpers import invoke as run
from tests.web.api.harness import Api, api_settings, open_api

CAMERAS = ["gate-1", "gate-2", "hall", "yard"]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = api_settings(tmp_path)
    cams = [CameraSettings(id=c, url=str(tmp_path / f"{c}.mp4")) for c in CAMERAS]
    yield from open_api(settings.model_copy(update={"cameras": cams}))


def _iso(delta_h: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=delta_h)).isoformat()


def _hold(**extra: Any) -> dict[str, Any]:
    return {
        "reference": "case:2026-0412",
        "reason": "evidence in an assault investigation",
        "cameras": ["gate-1"],
        "starts_at": _iso(-2),
        "ends_at": _iso(-1),
        **extra,
    }


def _actions(api: Api, obj: str) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in api.rt.audit_log.entries() if e.object == obj]


def _in_force(api: Api, hold_id: int) -> bool:
    return hold_id in {h["id"] for h in api.call("GET", "/api/holds", "sam").json()["items"]}


# --- a request's hold ----------------------------------------------------------------------


def test_nobody_releases_a_pending_requests_hold_directly(api: Api) -> None:
    filed = api.call(
        "POST",
        "/api/requests",
        "sam",
        json={
            "reference": "MET-1",
            "requester": "Metropolitan Police, DC Shaw",
            "contact": "dc.shaw@example.org",
            "cameras": ["gate-1"],
            "starts_at": _iso(-2),
            "ends_at": _iso(-1),
        },
    )
    assert filed.status_code == 201, filed.json()
    request_id, hold_id = filed.json()["id"], filed.json()["hold_id"]

    for user in ("ian", "sam", "sue"):  # the investigator, the filer, another supervisor
        refused = api.call("POST", f"/api/holds/{hold_id}/release", user, json={"reason": "done with it"})
        assert refused.status_code == 409, refused.json()
        assert f"request {request_id}" in refused.json()["detail"]
        assert "decision" in refused.json()["detail"]
    assert _in_force(api, hold_id)
    refusals = [a for a in _actions(api, f"hold:{hold_id}") if a[0] == "hold.release_refused"]
    assert refusals == [("hold.release_refused", u) for u in ("ian", "sam", "sue")]
    assert api.rt.changes.list_changes() == []  # not queued for a second person either

    # the request's decision releases it
    decided = api.call("POST", f"/api/requests/{request_id}/refuse", "sue", json={"reason": "no basis"})
    assert decided.status_code == 200, decided.json()
    assert not _in_force(api, hold_id)


# --- another person's hold -----------------------------------------------------------------


def test_releasing_another_persons_hold_needs_a_reason_and_a_second_person(api: Api) -> None:
    hold_id = api.call("POST", "/api/holds", "sam", json=_hold()).json()["id"]

    for body in (None, {}, {"reason": "  "}):
        bare = api.call("POST", f"/api/holds/{hold_id}/release", "ian", json=body)
        assert bare.status_code == 422, bare.json()
    assert _in_force(api, hold_id)

    asked = api.call("POST", f"/api/holds/{hold_id}/release", "ian", json={"reason": "case closed"})
    assert asked.status_code == 202, asked.json()
    body = asked.json()
    assert body["status"] == "pending" and body["receipt"] is None
    change_id = body["change"]
    assert _in_force(api, hold_id)  # nothing released by one person alone

    again = api.call("POST", f"/api/holds/{hold_id}/release", "ian", json={"reason": "case closed"})
    assert again.status_code == 409  # one pending release per hold

    alone = api.call("POST", f"/api/changes/{change_id}/approve", "ian")
    assert alone.status_code == 403  # the proposer lacks changes.approve
    assert _in_force(api, hold_id)

    approved = api.call("POST", f"/api/changes/{change_id}/approve", "sue")
    assert approved.status_code == 200, approved.json()
    assert not _in_force(api, hold_id)
    every = api.call("GET", "/api/holds", "sam", params={"include_released": True}).json()["items"]
    assert [(h["id"], h["released_by"]) for h in every] == [(hold_id, "sue")]
    (release,) = [e for e in api.rt.audit_log.entries() if e.action == "hold.release"]
    assert release.params["release_reason"] == "case closed"
    assert (release.params["proposed_by"], release.actor) == ("ian", "sue")


def test_a_supervisor_cannot_release_another_persons_hold_alone_either(api: Api) -> None:
    hold_id = api.call("POST", "/api/holds", "ian", json=_hold()).json()["id"]
    asked = api.call("POST", f"/api/holds/{hold_id}/release", "sam", json={"reason": "not needed"})
    assert asked.status_code == 202 and asked.json()["status"] == "pending"
    own = api.call("POST", f"/api/changes/{asked.json()['change']}/approve", "sam")
    assert own.status_code == 403 and "cannot also be the second" in own.json()["detail"]
    assert _in_force(api, hold_id)
    assert ("change.approve_refused", "sam") in _actions(api, f"change:{asked.json()['change']}")


def test_releasing_ones_own_hold_records_the_reason(api: Api) -> None:
    hold_id = api.call("POST", "/api/holds", "ian", json=_hold()).json()["id"]
    assert api.call("POST", f"/api/holds/{hold_id}/release", "ian", json={}).status_code == 422
    released = api.call("POST", f"/api/holds/{hold_id}/release", "ian", json={"reason": "wrong camera"})
    assert released.status_code == 200, released.json()
    assert released.json()["status"] == "released"
    assert released.json()["receipt"]["kind"] == "hold_release"
    assert not _in_force(api, hold_id)
    (release,) = [e for e in api.rt.audit_log.entries() if e.action == "hold.release"]
    assert (release.actor, release.params["release_reason"]) == ("ian", "wrong camera")


# --- what a hold may cover -----------------------------------------------------------------


def test_one_person_cannot_hold_every_camera_from_2000_to_9999(api: Api) -> None:
    forever = _hold(cameras=CAMERAS, starts_at="2000-01-01T00:00:00Z", ends_at="9999-12-31T00:00:00Z")
    refused = api.call("POST", "/api/holds", "ian", json=forever)
    assert refused.status_code == 422, refused.json()
    assert "window" in refused.json()["detail"]
    assert api.call("GET", "/api/holds", "sam").json()["items"] == []
    assert ("hold.place_refused", "ian") in _actions(api, "holds")


def test_a_city_wide_hold_waits_for_a_second_person_and_protects_meanwhile(api: Api) -> None:
    placed = api.call("POST", "/api/holds", "ian", json=_hold(cameras=CAMERAS))
    assert placed.status_code == 201, placed.json()
    hold = placed.json()
    assert hold["in_force"] and hold["awaiting_change"] is not None
    # protects while it waits, but only for a bounded time (retention.hold_pending_hours)
    expires = datetime.fromisoformat(hold["expires_at"])
    assert timedelta(hours=71) < expires - datetime.now(UTC) <= timedelta(hours=72)

    extend = api.call("POST", f"/api/holds/{hold['id']}/extend", "ian", json={"expires_at": None})
    assert extend.status_code == 409 and "second person" in extend.json()["detail"]

    approved = api.call("POST", f"/api/changes/{hold['awaiting_change']}/approve", "sam")
    assert approved.status_code == 200, approved.json()
    (now_held,) = api.call("GET", "/api/holds", "sam").json()["items"]
    assert (now_held["expires_at"], now_held["awaiting_change"]) == (None, None)


def test_a_long_hold_waits_for_a_second_person_and_lapses_if_refused(api: Api) -> None:
    placed = api.call("POST", "/api/holds", "ian", json=_hold(starts_at=_iso(-1), ends_at=_iso(24 * 20)))
    assert placed.status_code == 201, placed.json()
    change_id = placed.json()["awaiting_change"]
    assert change_id is not None
    refused = api.call("POST", f"/api/changes/{change_id}/refuse", "sam", json={"reason": "too wide"})
    assert refused.status_code == 200, refused.json()
    assert not _in_force(api, placed.json()["id"])


def test_a_city_wide_hold_split_into_small_ones_waits_as_the_whole_would(api: Api) -> None:
    """One hold per camera, or one window after another, each within what one person holds
    alone: together they are a city-wide or a long hold, and the one that makes them so waits."""
    first, second = (
        api.call("POST", "/api/holds", "ian", json=_hold(reference=f"case:{c}", cameras=[c]))
        for c in CAMERAS[:2]
    )
    assert first.json()["awaiting_change"] is None and second.json()["awaiting_change"] is None
    third = api.call("POST", "/api/holds", "ian", json=_hold(reference="case:3", cameras=[CAMERAS[2]]))
    assert third.status_code == 201, third.text
    assert third.json()["awaiting_change"] is not None  # three of four cameras held by ian alone
    (why,) = [e.params["why"] for e in api.rt.audit_log.entries() if e.action == "change.propose"]
    assert "3 of the 4 cameras" in why[0] and "other hold(s)" in why[0]
    # another person's hold is theirs, not ian's: sam holds one alone
    sam = api.call("POST", "/api/holds", "sam", json=_hold(reference="case:sam", cameras=[CAMERAS[3]]))
    assert sam.status_code == 201 and sam.json()["awaiting_change"] is None, sam.text

    # once released, a hold no longer counts
    mine = api.call("POST", f"/api/holds/{first.json()['id']}/release", "ian", json={"reason": "done"})
    assert mine.status_code == 200, mine.text
    fourth = api.call("POST", "/api/holds", "ian", json=_hold(reference="case:4", cameras=[CAMERAS[0]]))
    assert fourth.status_code == 201, fourth.text
    # gate-1 again, with gate-2 and hall (pending) in force: three of four
    assert fourth.json()["awaiting_change"] is not None


def test_a_long_hold_split_into_windows_one_after_another_waits_as_the_whole_would(api: Api) -> None:
    # one window after another on gate-2: ten days, then nine more (19 days in all)
    later = api.call(
        "POST",
        "/api/holds",
        "ian",
        json=_hold(reference="case:later", cameras=[CAMERAS[1]], starts_at=_iso(-1), ends_at=_iso(24 * 10)),
    )
    assert later.status_code == 201 and later.json()["awaiting_change"] is None, later.text
    more = api.call(
        "POST",
        "/api/holds",
        "ian",
        json=_hold(
            reference="case:more", cameras=[CAMERAS[1]], starts_at=_iso(24 * 10), ends_at=_iso(24 * 19)
        ),
    )
    assert more.status_code == 201 and more.json()["awaiting_change"] is not None, more.text


@pytest.mark.parametrize(
    ("cameras", "unknown"),
    [(["nowhere"], "nowhere"), (["gate-1", "gate-9", "nowhere"], "gate-9, nowhere")],
)
def test_a_hold_on_an_unknown_camera_is_refused(api: Api, cameras: list[str], unknown: str) -> None:
    refused = api.call("POST", "/api/holds", "ian", json=_hold(cameras=cameras))
    assert refused.status_code == 422, refused.json()
    assert f"unknown camera(s): {unknown}" in refused.json()["detail"]
    assert api.call("GET", "/api/holds", "sam").json()["items"] == []


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key in stray_settings():
        monkeypatch.delenv(key)
    for key, value in cli_env(tmp_path, shared_data).items():
        monkeypatch.setenv(key, value)
    config = tmp_path / "citywatch.yaml"
    config.write_text(
        "cameras:\n" + "".join(f"  - id: {c}\n    url: {tmp_path / 'none.mp4'}\n" for c in CAMERAS)
    )
    monkeypatch.setenv("CITYWATCH_CONFIG", str(config))
    rt = Runtime(Settings(data_dir=tmp_path / "data"))
    tokens = {}
    for name, role in (("ian", "investigator"), ("sam", "supervisor")):
        rt.users.add_user(name, role)
        tokens[name] = own_token(rt.users, name).token
    rt.close()
    yield tokens


def test_the_command_line_refuses_the_same_releases(cli: dict[str, str]) -> None:
    ian, sam = {"CITYWATCH_TOKEN": cli["ian"]}, {"CITYWATCH_TOKEN": cli["sam"]}
    code, text = run(
        *("request", "file", "--reference", "MET-7", "--requester", "DC Jones"),
        *("--camera", "gate-1", "--from", "2h", "--until", "1h"),
        env=sam,
    )
    assert code == 0 and "held (hold 1)" in text, text
    code, text = run("holds", "release", "1", env=ian)
    assert code == 2 and "--reason" in text  # no reason: not even asked
    code, text = run("holds", "release", "1", "--reason", "done", env=ian)
    assert code == 1 and "request 1" in text, text  # Conflict

    code, text = run(
        *("holds", "place", "--reference", "case:1", "--reason", "evidence"),
        *("--camera", "gate-1", "--from", "2h", "--until", "1h"),
        env=sam,
    )
    assert code == 0 and "hold 2 placed" in text, text
    code, text = run("holds", "release", "2", "--reason", "case closed", env=ian)
    assert code == 0 and "pending change #1" in text, text
    code, text = run("holds", "list", "--json", env=sam)
    assert {h["hold"]["id"] for h in map(__import__("json").loads, text.splitlines())} == {1, 2}

    code, text = run(
        *("holds", "place", "--reference", "case:2", "--reason", "everything"),
        *("--camera", "gate-1", "--camera", "atlantis", "--from", "2h", "--until", "1h"),
        env=ian,
    )
    assert code == 2 and "unknown camera(s): atlantis" in text, text


# --- footage named item by item counts as its camera over its span ---------------------------


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


def _recordings_hold(ids: list[int], reference: str = "case:every") -> dict[str, object]:
    return {
        "reference": reference,
        "reason": "keep it all",
        "items": [{"kind": "recording", "id": i} for i in ids],
    }


def test_naming_every_cameras_recordings_waits_as_a_city_wide_hold_would(api: Api) -> None:
    ids = _recordings(api, CAMERAS, 3)
    placed = api.call("POST", "/api/holds", "ian", json=_recordings_hold(ids))
    assert placed.status_code == 201, placed.text
    assert placed.json()["awaiting_change"] is not None  # 4 of 4 cameras, alone
    (why,) = [e.params["why"] for e in api.rt.audit_log.entries() if e.action == "change.propose"]
    assert "4 of the 4 cameras" in why[0]


def test_naming_three_weeks_of_one_cameras_recordings_waits_as_a_long_hold_would(api: Api) -> None:
    ids = _recordings(api, ["hall"], 21 * 24)
    placed = api.call("POST", "/api/holds", "ian", json=_recordings_hold(ids))
    assert placed.status_code == 201, placed.text
    assert placed.json()["awaiting_change"] is not None
    (why,) = [e.params["why"] for e in api.rt.audit_log.entries() if e.action == "change.propose"]
    assert "camera hall is held over 21.0 days" in why[0]


def test_recordings_named_in_holds_one_at_a_time_count_together(api: Api) -> None:
    ids = _recordings(api, CAMERAS, 1)
    first = api.call("POST", "/api/holds", "ian", json=_recordings_hold(ids[:2], "case:a"))  # gate-1, gate-2
    assert first.status_code == 201 and first.json()["awaiting_change"] is None, first.text
    third = api.call("POST", "/api/holds", "ian", json=_recordings_hold(ids[2:3], "case:b"))  # hall
    assert third.status_code == 201 and third.json()["awaiting_change"] is not None


def test_a_few_recordings_are_held_alone(api: Api) -> None:
    ids = _recordings(api, ["hall"], 5)
    placed = api.call("POST", "/api/holds", "ian", json=_recordings_hold(ids))
    assert placed.status_code == 201 and placed.json()["awaiting_change"] is None, placed.text
