"""The holds, receipts, requests, exports and audit pages: each opens for a role that may
read it, with real records; sends a browser without a session to sign in; refuses another
role with a page; the audit filters narrow what is shown; the route the verify button
calls names a tampered record."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from citywatch.store.audit_tables import AuditRecord
from citywatch.store.retention_tables import RequestRow
from tests.web.console.pages_harness import Console, console_settings, open_console

NOW = datetime.now(UTC)


def _iso(delta_h: float) -> str:
    return (NOW + timedelta(hours=delta_h)).isoformat()


def _hold(reference: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "reference": reference,
        "reason": reason,
        "cameras": ["gate-1"],
        "starts_at": _iso(-2),
        "ends_at": _iso(-1),
        **extra,
    }


def _request(reference: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "requester": "Metropolitan Police, DC Shaw",
        "contact": "dc.shaw@example.org",
        "cameras": ["gate-1"],
        "starts_at": _iso(-2),
        "ends_at": _iso(-1),
    }


@dataclass
class World:
    """A console with holds, receipts, requests in each state and an export."""

    console: Console
    kept: int
    released: int
    filed_by_sam: int
    overdue: int
    fulfilled: int
    export: int


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def build_world(console: Console) -> World:
    call = console.api
    kept = ok(call("POST", "/api/holds", "ian", json=_hold("case:2026-0412", "assault evidence")), 201)
    gone = ok(call("POST", "/api/holds", "sam", json=_hold("case:2026-0007", "closed case")), 201)
    ok(call("POST", f"/api/holds/{gone['id']}/release", "sam", json={"reason": "case closed"}))
    mine = ok(call("POST", "/api/requests", "sam", json=_request("MET-1")), 201)
    late = ok(call("POST", "/api/requests", "ian", json=_request("MET-2")), 201)
    with console.rt.database.session() as s:
        s.execute(
            update(RequestRow).where(RequestRow.id == late["id"]).values(deadline=NOW - timedelta(days=1))
        )
    done = ok(call("POST", "/api/requests", "ian", json=_request("MET-3")), 201)
    fulfilled = ok(call("POST", f"/api/requests/{done['id']}/approve", "sue"))
    assert fulfilled["status"] == "fulfilled" and fulfilled["export_id"] is not None
    return World(console, kept["id"], gone["id"], mine["id"], late["id"], done["id"], fulfilled["export_id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for console in open_console(console_settings(tmp_path_factory.mktemp("accountability"))):
        yield build_world(console)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    yield from open_console(console_settings(tmp_path))


def page(console: Console, path: str, user: str | None) -> str:
    response = console.page(path, user)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def attrs(html: str, name: str) -> list[str]:
    return re.findall(rf'{name}="([^"]*)"', html)


# --- who may open which page ---------------------------------------------------------------

PAGES = {
    "/console/holds": ("ian", "aude"),
    "/console/receipts": ("aude", "ian"),
    "/console/requests": ("aude", "olga"),
    "/console/exports": ("aude", "olga"),
    "/console/audit": ("aude", "sam"),
}
"""Each page: a role that may open it, and one that may not."""


@pytest.mark.parametrize(("path", "allowed"), [(p, a) for p, (a, _) in PAGES.items()])
def test_each_page_opens_for_a_role_that_may_read_it(world: World, path: str, allowed: str) -> None:
    html = page(world.console, path, allowed)
    assert f'href="{path}" aria-current="page"' in html or path == "/console/receipts"
    assert "<script>" not in html and " style=" not in html and "onclick" not in html  # the CSP's rules


@pytest.mark.parametrize("path", list(PAGES))
def test_a_browser_without_a_session_is_sent_to_sign_in(world: World, path: str) -> None:
    response = world.console.page(path + "?limit=5", None)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}%3Flimit%3D5"


@pytest.mark.parametrize(("path", "denied"), [(p, d) for p, (_, d) in PAGES.items()])
def test_a_role_without_the_permission_gets_a_page_saying_so(world: World, path: str, denied: str) -> None:
    response = world.console.page(path, denied)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Not allowed" in response.text and "may not do this" in response.text


# --- holds and receipts --------------------------------------------------------------------


def test_the_holds_page_lists_holds_in_force_and_on_asking_released_ones(world: World) -> None:
    html = page(world.console, "/console/holds", "ian")
    in_force = attrs(html, "data-hold-row")
    assert str(world.kept) in in_force and str(world.released) not in in_force  # and the requests' holds
    assert "assault evidence" in html and "case:2026-0412" in html and "gate-1" in html
    assert f'data-release="{world.kept}"' in html and f'data-extend="{world.kept}"' in html
    assert "form data-hold-form" in html and 'name="reference"' in html
    assert "/console/receipts" not in html  # an investigator reads no receipts

    everything = page(world.console, "/console/holds?show=all", "sam")
    rows = dict(re.findall(r'data-hold-row="(\d+)" data-state="([a-z ]+)"', everything))
    assert rows[str(world.kept)] == "in force" and rows[str(world.released)] == "released"
    assert f'data-release="{world.released}"' not in everything  # nothing left to release
    assert "/console/receipts" in everything


def test_the_receipts_page_shows_each_deletion_with_its_proof_and_audit_record(world: World) -> None:
    html = page(world.console, "/console/receipts", "aude")
    kinds = attrs(html, "data-kind")
    assert "hold_release" in kinds
    seqs = re.findall(r'href="/console/audit\?before=(\d+)&(?:amp;)?limit=1">#(\d+)<', html)
    assert seqs and all(int(b) == int(s) + 1 for b, s in seqs)
    older = page(world.console, "/console/receipts?limit=1", "aude")
    assert len(attrs(older, "data-receipt-row")) == 1


# --- requests and exports ------------------------------------------------------------------


def test_the_requests_page_shows_status_deadline_and_the_decisions_the_two_person_rule_allows(
    world: World,
) -> None:
    html = page(world.console, "/console/requests", "sam")
    rows = dict(re.findall(r'data-request-row="(\d+)" data-status="([a-z_]+)"', html))
    assert rows == {
        str(world.filed_by_sam): "filed",
        str(world.overdue): "filed",
        str(world.fulfilled): "fulfilled",
    }
    assert re.search(rf'data-request-row="{world.overdue}"[^>]*data-overdue', html)
    assert not re.search(rf'data-request-row="{world.filed_by_sam}"[^>]*data-overdue', html)
    assert 'data-overdue-count="1"' in html

    def actions(request_id: int, text: str) -> set[str]:
        return set(re.findall(rf'data-request-action="([a-z]+)" data-request="{request_id}"', text))

    assert actions(world.filed_by_sam, html) == set()  # sam filed it
    assert "you filed it: another supervisor decides" in html
    assert actions(world.overdue, html) == {"review", "approve", "refuse"}
    assert actions(world.fulfilled, html) == {"close"}
    assert 'data-api="POST /api/requests"' in html  # a supervisor may file

    sue = page(world.console, "/console/requests", "sue")
    assert actions(world.filed_by_sam, sue) == {"review", "approve", "refuse"}
    auditor = page(world.console, "/console/requests", "aude")
    assert "data-request-action" not in auditor and 'data-api="POST /api/requests"' not in auditor


def test_the_requests_page_filters_by_status_and_kind(world: World) -> None:
    fulfilled = page(world.console, "/console/requests?status=fulfilled", "aude")
    assert attrs(fulfilled, "data-request-row") == [str(world.fulfilled)]
    public = page(world.console, "/console/requests?kind=subject_access", "aude")
    assert attrs(public, "data-request-row") == []
    assert world.console.page("/console/requests?status=lost", "aude").status_code == 422


def test_the_exports_page_lists_packages_and_shows_the_last_check(world: World) -> None:
    html = page(world.console, "/console/exports", "sue")
    assert attrs(html, "data-export-row") == [str(world.export)]
    assert f'data-export-download="{world.export}"' in html  # a supervisor hands it over
    assert f'href="/api/exports/{world.export}/package"' in html
    assert "not checked yet" in html

    verdict = world.console.api("POST", f"/api/exports/{world.export}/verify", "aude")
    assert verdict.status_code == 200 and verdict.json()["ok"] is True
    checked = page(world.console, "/console/exports", "aude")
    assert f'data-export-verdict="{world.export}" data-ok="true"' in checked
    assert "data-export-download" not in checked  # an auditor verifies, does not download
    assert f'data-export-verify="{world.export}"' in checked


# --- the audit log -------------------------------------------------------------------------


def shown(console: Console, query: str) -> list[tuple[int, str, str]]:
    """The (seq, actor, action) of each record the audit page shows for `query`."""
    html = page(console, f"/console/audit?{query}", "aude")
    return [
        (int(seq), actor, action)
        for seq, action, actor in re.findall(
            r'data-seq="(\d+)" data-action="([^"]*)" data-actor="([^"]*)"', html
        )
    ]


def test_the_audit_page_shows_the_newest_records_first_a_page_at_a_time(world: World) -> None:
    everything = shown(world.console, "limit=500")
    seqs = [s for s, _, _ in everything]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) > 5
    first = page(world.console, "/console/audit?limit=3", "aude")
    assert len(attrs(first, "data-seq")) == 3
    older = re.search(r'href="/console/audit\?([^"]*)" data-older', first)
    assert older is not None
    second = shown(world.console, older.group(1).replace("&amp;", "&"))
    assert [s for s, _, _ in second] == seqs[3:6]


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("actor=ian", lambda seq, actor, action: actor == "ian"),
        ("action=hold.place", lambda seq, actor, action: action == "hold.place"),
        ("action=request.*", lambda seq, actor, action: action.startswith("request.")),
        ("actor=sam&action=hold.*", lambda seq, actor, action: actor == "sam" and action.startswith("hold.")),
    ],
)
def test_the_audit_filters_narrow_the_records_shown(world: World, query: str, keep: Any) -> None:
    everything = shown(world.console, "limit=500")
    expected = [r for r in everything if keep(*r)]
    assert expected and len(expected) < len(everything)
    assert shown(world.console, query + "&limit=500") == expected


def test_the_audit_object_filter_finds_one_records_history(world: World) -> None:
    html = page(world.console, f"/console/audit?object=request:{world.fulfilled}", "aude")
    actions = attrs(html, "data-action")
    assert {"request.file", "request.approve", "request.fulfil"} <= set(actions)
    assert set(re.findall(r'href="/console/audit\?object=([^"]+)"', html)) == {f"request%3A{world.fulfilled}"}
    assert shown(world.console, "object=export:*&limit=500")  # an object kind, by prefix


def test_the_audit_time_filters_take_utc_times_and_say_when_they_are_wrong(world: World) -> None:
    log, db = world.console.rt.audit_log, world.console.rt.database
    with db.session() as s:
        for hour in (10, 11, 12):  # records written under a clock long past
            log.append(
                s,
                actor="clock",
                role="system",
                action="test.tick",
                object="",
                at=datetime(2001, 1, 1, hour, tzinfo=UTC),
            )
    ticks = [s for s, actor, _ in shown(world.console, "actor=clock")]
    assert len(ticks) == 3
    assert shown(world.console, "actor=clock&since=2001-01-01T11:00") == [
        (s, "clock", "test.tick") for s in ticks[:2]
    ]
    assert [s for s, _, _ in shown(world.console, "until=2001-01-01T11:00:00")] == ticks[2:]
    window = shown(world.console, "since=2001-01-01T10:30&until=2001-01-01T11:30")
    assert [s for s, _, _ in window] == ticks[1:2]
    assert shown(world.console, "since=2001-01-01T11:00%2B01:00&until=2001-01-01T11:00:01%2B01:00") == [
        (ticks[2], "clock", "test.tick")  # an offset, when given, is honoured: 10:00 UTC
    ]

    wrong = page(world.console, "/console/audit?since=yesterday", "aude")
    assert "data-filter-error" in wrong and "is not a time" in wrong
    backwards = page(world.console, "/console/audit?since=2001-01-02T00:00&until=2001-01-01T00:00", "aude")
    assert "&#39;until&#39; must come after &#39;since&#39;" in backwards
    typo = page(world.console, "/console/audit?action=hold.plce", "aude")
    assert "data-filter-error" in typo and "did you mean hold.place" in typo


def test_the_audit_page_has_the_verify_button_and_its_verdict_names_a_tampered_record(
    console: Console,
) -> None:
    ok(console.api("POST", "/api/holds", "sam", json=_hold("case:1", "evidence")), 201)
    ok(console.api("POST", "/api/requests", "sam", json=_request("MET-9")), 201)
    html = page(console, "/console/audit", "aude")
    assert "data-verify" in html and "data-verify-result" in html and "/static/accountability.js" in html
    intact = ok(console.api("POST", "/api/audit/verify", "aude"))  # what the button calls
    assert intact["ok"] is True and intact["records"] >= 2

    with console.rt.database.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(actor="someone else"))
    broken = ok(console.api("POST", "/api/audit/verify", "aude"))
    assert broken["ok"] is False and broken["first_bad_seq"] == 2 and broken["reason"]
    script = console.page("/static/accountability.js", None).text
    assert "Chain BROKEN at record" in script and "dataset.firstBadSeq" in script
