"""Holds, receipts, requests, the public subject-access form, the audit log and the
transparency report over HTTP: flows, pagination, malformed payloads, uploads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.conftest import shared_data_dir
from tests.web.api.harness import Api, api_settings, open_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path))


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app for the refused payloads: none of their calls changes anything."""
    yield from open_api(api_settings(tmp_path_factory.mktemp("refused")))


NOW = datetime.now(UTC)


def _iso(delta_h: float) -> str:
    return (NOW + timedelta(hours=delta_h)).isoformat()


def _hold(**extra: Any) -> dict[str, Any]:
    return {
        "reference": "case:2026-0412",
        "reason": "evidence",
        "cameras": ["gate-1"],
        "starts_at": _iso(-2),
        "ends_at": _iso(-1),
        **extra,
    }


# --- holds and receipts --------------------------------------------------------------------


def test_a_hold_is_placed_extended_and_released_with_a_receipt(api: Api) -> None:
    placed = api.call("POST", "/api/holds", "ian", json=_hold(expires_at=_iso(24)))
    assert placed.status_code == 201, placed.json()
    hold = placed.json()
    assert (hold["placed_by"], hold["requester"], hold["in_force"]) == ("ian", "ian", True)

    hold_id = hold["id"]
    earlier = api.call("POST", f"/api/holds/{hold_id}/extend", "ian", json={"expires_at": _iso(2)})
    assert earlier.status_code == 422 and "only be extended" in earlier.json()["detail"]
    later = api.call("POST", f"/api/holds/{hold_id}/extend", "sam", json={"expires_at": None})
    assert later.status_code == 200 and later.json()["expires_at"] is None

    released = api.call("POST", f"/api/holds/{hold_id}/release", "sam", json={"reason": "case closed"})
    assert released.status_code == 202 and released.json()["status"] == "pending"  # ian's hold
    approved = api.call("POST", f"/api/changes/{released.json()['change']}/approve", "sue")
    assert approved.status_code == 200, approved.json()
    assert (
        api.call("POST", f"/api/holds/{hold_id}/release", "sam", json={"reason": "case closed"}).status_code
        == 409
    )
    assert api.call("GET", "/api/holds", "sam").json()["items"] == []
    every = api.call("GET", "/api/holds", "sam", params={"include_released": True}).json()["items"]
    assert [(h["id"], h["released_by"]) for h in every] == [(hold_id, "sue")]
    actions = [e.action for e in api.rt.audit_log.entries() if e.object == f"hold:{hold_id}"]
    assert actions == ["hold.place", "hold.extend", "hold.release", "hold.release_refused"]  # sue released it


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (_hold(starts_at=None), 422),
        (_hold(cameras=[], starts_at=None, ends_at=None), 422),
        (_hold(items=[{"kind": "sighting", "id": 4242}], cameras=[], starts_at=None, ends_at=None), 404),
        (_hold(items=[{"kind": "person", "id": 1}]), 422),
        (_hold(reason=""), 422),
        (_hold(expires_at=_iso(-1)), 422),
        (_hold(starts_at="yesterday"), 422),
    ],
    ids=[
        "half a window",
        "nothing held",
        "no such sighting",
        "not holdable",
        "no reason",
        "expired",
        "bad time",
    ],
)
def test_a_malformed_or_impossible_hold_is_refused(
    shared_api: Api, body: dict[str, Any], status: int
) -> None:
    response = shared_api.call("POST", "/api/holds", "sam", json=body)
    assert response.status_code == status, response.json()
    assert response.json()["detail"]


def test_receipts_are_paginated_newest_first(api: Api) -> None:
    for _ in range(3):
        hold_id = api.call("POST", "/api/holds", "sam", json=_hold()).json()["id"]
        api.call("POST", f"/api/holds/{hold_id}/release", "sam", json={"reason": "case closed"})
    first = api.call("GET", "/api/receipts", "aude", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_before"] is not None
    ids = [r["id"] for r in first["items"]]
    assert ids == sorted(ids, reverse=True)
    rest = api.call(
        "GET", "/api/receipts", "aude", params={"limit": 2, "before": first["next_before"]}
    ).json()
    assert len(rest["items"]) == 1 and rest["next_before"] is None
    assert rest["items"][0]["id"] < ids[-1]
    for bad in ({"limit": 0}, {"limit": 501}, {"before": "x"}):
        assert api.call("GET", "/api/receipts", "aude", params=bad).status_code == 422


# --- requests ------------------------------------------------------------------------------


def _request(reference: str = "MET-1", **extra: Any) -> dict[str, Any]:
    return {
        "reference": reference,
        "requester": "Metropolitan Police, DC Shaw",
        "contact": "dc.shaw@example.org",
        "cameras": ["gate-1"],
        "starts_at": _iso(-2),
        "ends_at": _iso(-1),
        **extra,
    }


def test_a_law_enforcement_request_is_decided_by_another_supervisor_and_exported(api: Api) -> None:
    filed = api.call("POST", "/api/requests", "sam", json=_request())
    assert filed.status_code == 201, filed.json()
    request_id, hold_id = filed.json()["id"], filed.json()["hold_id"]
    assert filed.json()["status"] == "filed" and hold_id is not None

    own = api.call("POST", f"/api/requests/{request_id}/approve", "sam")
    assert own.status_code == 403 and "different supervisor" in own.json()["detail"]
    assert api.call("POST", f"/api/requests/{request_id}/close", "sue").status_code == 409
    assert api.call("POST", f"/api/requests/{request_id}/review", "sue").json()["status"] == "in_review"
    approved = api.call("POST", f"/api/requests/{request_id}/approve", "sue")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "fulfilled" and approved.json()["export_id"] is not None
    closed = api.call("POST", f"/api/requests/{request_id}/close", "sue")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert api.call("GET", "/api/holds", "sam").json()["items"] == []  # released on closing


def test_a_refusal_needs_its_reason_and_releases_the_hold(api: Api) -> None:
    request_id = api.call("POST", "/api/requests", "ian", json=_request()).json()["id"]
    assert api.call("POST", f"/api/requests/{request_id}/refuse", "sam", json={}).status_code == 422
    assert (
        api.call("POST", f"/api/requests/{request_id}/refuse", "sam", json={"reason": " "}).status_code == 422
    )
    refused = api.call("POST", f"/api/requests/{request_id}/refuse", "sam", json={"reason": "out of scope"})
    assert refused.status_code == 200
    assert (refused.json()["status"], refused.json()["refusal_reason"]) == ("refused", "out of scope")
    assert api.call("GET", "/api/holds", "sam").json()["items"] == []


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"cameras": ["nowhere"]}, 404),
        ({"cameras": []}, 422),
        ({"ends_at": _iso(-3)}, 422),
        ({"starts_at": "2026-11-27T08:00:00"}, 422),
        ({"requester": ""}, 422),
    ],
    ids=["unknown camera", "no camera", "ends first", "naive time", "no requester"],
)
def test_a_malformed_request_is_refused(shared_api: Api, change: dict[str, Any], status: int) -> None:
    response = shared_api.call("POST", "/api/requests", "ian", json=_request() | change)
    assert response.status_code == status, response.json()


def test_requests_are_paginated_and_filtered(api: Api) -> None:
    for n in range(3):
        assert api.call("POST", "/api/requests", "ian", json=_request(f"MET-{n}")).status_code == 201
    page = api.call("GET", "/api/requests", "aude", params={"limit": 2, "offset": 1}).json()
    assert [r["reference"] for r in page["items"]] == ["MET-1", "MET-2"] and page["total"] == 3
    refused = api.call("GET", "/api/requests", "aude", params={"status": "refused"}).json()
    assert refused["items"] == [] and refused["total"] == 0
    assert api.call("GET", "/api/requests", "aude", params={"status": "lost"}).status_code == 422


# --- the public form -----------------------------------------------------------------------


def _form(**extra: Any) -> dict[str, Any]:
    return {
        "requester": "Ann Lee",
        "contact": "ann@example.org",
        "cameras": ["gate-1"],
        "starts_at": _iso(-2),
        "ends_at": _iso(-1),
        **extra,
    }


def test_the_public_form_needs_no_token_and_refuses_what_is_not_a_photo(api: Api) -> None:
    response = api.call(
        "POST",
        "/api/public/requests",
        data=_form(),
        files={"photo": ("me.jpg", b"not an image", "image/jpeg")},
    )
    assert response.status_code == 422 and "not a readable image" in response.json()["detail"]
    missing = api.call("POST", "/api/public/requests", data=_form(), files={"selfie": ("a.jpg", b"x")})
    assert missing.status_code == 422 and "photo" in missing.json()["detail"]
    as_json = api.call("POST", "/api/public/requests", json=_form())
    assert as_json.status_code == 415 and "multipart/form-data" in as_json.json()["detail"]
    naive = api.call(
        "POST",
        "/api/public/requests",
        data=_form(starts_at="2026-11-27T08:00"),
        files={"photo": ("me.jpg", b"x", "image/jpeg")},
    )
    assert naive.status_code == 422 and naive.json()["code"] == "malformed"
    assert api.rt.requests.list() == []


def test_an_oversized_photo_is_413_before_it_is_read(tmp_path: Path) -> None:
    for api in open_api(api_settings(tmp_path, public_photo_max_mb=0.01)):
        big = b"\xff\xd8" + b"\0" * 20_000
        response = api.call("POST", "/api/public/requests", data=_form(), files={"photo": ("me.jpg", big)})
        assert response.status_code == 413 and "10000" not in response.json()["detail"]
        assert "0.01 MB" in response.json()["detail"]


def test_the_public_form_is_rate_limited_per_address(tmp_path: Path) -> None:
    for api in open_api(api_settings(tmp_path, public_requests_per_hour=2)):
        codes = [api.call("POST", "/api/public/requests", json={}).status_code for _ in range(3)]
        assert codes == [415, 415, 429]
        limited = api.call("POST", "/api/public/requests", json={})
        assert int(limited.headers["retry-after"]) > 0
        assert limited.json()["code"] == "too_many_requests"


def test_searches_beyond_the_bound_are_refused_not_queued(tmp_path: Path) -> None:
    for api in open_api(api_settings(tmp_path, public_searches_at_once=1)):
        searches = api.client.app.state.public_searches  # type: ignore[attr-defined]
        searches.acquire()  # one search running
        photo = cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[1].tobytes()
        response = api.call("POST", "/api/public/requests", data=_form(), files={"photo": ("me.png", photo)})
        assert response.status_code == 503 and "busy" in response.json()["detail"]
        searches.release()
        assert api.rt.requests.list() == []


def test_a_photo_of_several_people_is_refused_with_the_reason(api: Api) -> None:
    photo = shared_data_dir() / "face_recognition" / "examples" / "two_people.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} not found")
    response = api.call(
        "POST",
        "/api/public/requests",
        data=_form(),
        files={"photo": ("two_people.jpg", photo.read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 422, response.json()
    assert "several faces" in response.json()["detail"]
    assert api.rt.requests.list() == []


# --- audit log and transparency ------------------------------------------------------------


def test_the_audit_log_is_paginated_filtered_and_verified(api: Api) -> None:
    for n in range(3):
        api.call("POST", "/api/requests", "ian", json=_request(f"MET-{n}"))
    api.call("POST", "/api/holds", "sam", json=_hold())
    first = api.call("GET", "/api/audit", "aude", params={"limit": 2}).json()
    seqs = [e["seq"] for e in first["items"]]
    assert len(seqs) == 2 and seqs == sorted(seqs, reverse=True) and first["next_before"] == seqs[-1]
    older = api.call("GET", "/api/audit", "aude", params={"limit": 2, "before": seqs[-1]}).json()
    assert all(e["seq"] < seqs[-1] for e in older["items"])

    filed = api.call("GET", "/api/audit", "aude", params={"action": "request.file"}).json()["items"]
    assert [e["case"] for e in filed] == ["MET-2", "MET-1", "MET-0"]
    by_sam = api.call("GET", "/api/audit", "aude", params={"actor": "sam"}).json()["items"]
    assert by_sam and {e["actor"] for e in by_sam} == {"sam"}
    later = api.call("GET", "/api/audit", "aude", params={"since": _iso(1)}).json()
    assert later == {"items": [], "next_before": None}
    for bad in ({"since": "2026-11-27T08:00"}, {"limit": 0}, {"before": 0}):
        assert api.call("GET", "/api/audit", "aude", params=bad).status_code == 422
    typo = api.call("GET", "/api/audit", "aude", params={"action": "request.fle"})
    assert typo.status_code == 422 and "did you mean request.file" in typo.text  # not an empty page
    assert api.call("GET", "/api/audit", "aude", params={"action": "request.*"}).status_code == 200

    verdict = api.call("POST", "/api/audit/verify", "aude")
    assert verdict.status_code == 200
    v = verdict.json()
    head = v["last_seq"]
    assert (v["first_seq"], v["records"]) == (1, head)
    assert v | {"records": 0, "last_seq": 0, "compared": [], "witness": None} == {
        "ok": True,
        "records": 0,
        "first_bad_seq": None,
        "reason": "",
        "anchor_seq": None,
        "first_seq": 1,
        "last_seq": 0,
        "checkpoints": 0,
        "witness": None,
        "problems": [],
        "notes": [],
        "compared": [],
    }
    # what it compared: the records, and the witness's newest signed head (every commit writes one)
    assert v["witness"]["present"] and v["witness"]["last_seq"] == head
    assert v["witness"]["path"].endswith("audit-witness.jsonl")
    assert v["compared"][0] == f"records 1–{head} ({head}), chain and hashes"
    assert any(line.startswith("witness: ") and f"last: record {head} " in line for line in v["compared"])


def test_the_transparency_report_is_public_and_names_nobody(api: Api) -> None:
    api.call("POST", "/api/requests", "ian", json=_request("MET-SECRET"))
    response = api.call("GET", "/api/transparency")
    assert response.status_code == 200, response.json()
    report = response.json()
    assert report["holds"]["in_force"] == 1 and report["cameras"]["configured"] == 1
    assert [(r["kind"], r["status"], r["count"]) for r in report["requests"]] == [
        ("law_enforcement", "filed", 1)
    ]
    assert "MET-SECRET" not in response.text and "Shaw" not in response.text
    assert api.call("GET", "/api/transparency", params={"since": "2026-11-27"}).status_code == 422
    backwards = api.call("GET", "/api/transparency", params={"since": _iso(1), "until": _iso(-1)})
    assert backwards.status_code == 422
