"""The people page: watchlists with their sizes, persons a page at a time, enrolment by
upload that waits for a second person (approved from the page's own API route), and a
person's reference image only through its audited API route; signed out or without the
permission, no page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from citywatch.domain.audit import Actor
from citywatch.domain.records import NewReference
from tests.store.helpers import MODEL
from tests.web.console.pages_harness import Console, console_settings, open_console

PNG_STUB = b"\x89PNG\r\n\x1a\n reference photo"
SAM = Actor("sam", "supervisor")


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    yield from open_console(console_settings(tmp_path))


def enrol(console: Console, name: str, watchlist: str = "wanted", *, proposer: Actor | None = SAM) -> int:
    """A person with one reference image (a stub: no model runs), pending when proposed."""
    console.rt.watchlists.ensure_watchlist(watchlist)
    vector = np.ones(8, np.float32) / np.sqrt(8)
    reference = NewReference(PNG_STUB, ".png", "warrant file 2026-114", "s.2 Act", MODEL, vector)
    return console.rt.watchlists.enroll(
        [reference], watchlist_name=watchlist, display_name=name, proposer=proposer
    ).id


def test_an_operator_sees_the_watchlists_and_persons_but_no_enrolment_form(console: Console) -> None:
    console.rt.watchlists.create_watchlist("missing", category="missing", threshold=0.5)
    jane = enrol(console, "Jane Roe")
    enrol(console, "John Doe", proposer=None)

    page = console.page("/console/people", "olga")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert 'data-watchlist="wanted"' in html and 'data-watchlist="missing"' in html
    assert "0.500" in html  # missing's own threshold; wanted shows the default
    assert f'data-person-id="{jane}" data-status="pending"' in html
    assert "John Doe" in html and "warrant" not in html
    assert 'name="enrol"' not in html  # an operator reads; a supervisor enrols
    assert 'data-action="approve"' not in html
    assert '<script src="/static/people.js" defer></script>' in html
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not console.audited("person.reference_view")  # the page shows no face


def test_the_member_count_includes_pending_persons(console: Console) -> None:
    for name in ("A One", "B Two", "C Three"):
        enrol(console, name)
    page = console.page("/console/people", "olga").text
    row = page[page.index('data-watchlist="wanted"') :]
    assert "<td data-members>3</td>" in row[: row.index("</tr>")]


def test_the_proposer_waits_for_a_second_person_who_may_approve_from_the_page(console: Console) -> None:
    person = enrol(console, "Jane Roe")
    [change] = console.rt.changes.list_changes(object=f"person:{person}")

    mine = console.page("/console/people", "sam").text
    assert f'data-change-id="{change.id}" data-change-kind="person.add"' in mine
    assert "yours: needs another person" in mine
    assert f'data-action="approve" data-change-id="{change.id}"' not in mine
    assert 'name="enrol"' in mine and 'data-api="POST /api/persons"' in mine

    theirs = console.page("/console/people", "sue").text
    assert f'data-action="approve" data-change-id="{change.id}"' in theirs
    assert f'data-action="refuse" data-change-id="{change.id}"' in theirs

    approved = console.api("POST", f"/api/changes/{change.id}/approve", "sue")
    assert approved.status_code == 200, approved.text
    after = console.page("/console/people", "sue").text
    assert f'data-person-id="{person}" data-status="active"' in after
    assert 'data-empty="changes"' in after


def test_persons_come_a_page_at_a_time(console: Console) -> None:
    ids = [enrol(console, f"Person {i}", proposer=None) for i in range(55)]
    first = console.page("/console/people", "olga").text
    assert first.count("<tr data-person-id=") == 50
    assert f'data-person-id="{ids[49]}"' in first and f'data-person-id="{ids[50]}"' not in first
    assert f'href="/console/people?after={ids[49]}"' in first
    second = console.page(f"/console/people?after={ids[49]}", "olga").text
    assert f'data-person-id="{ids[50]}"' in second and f'data-person-id="{ids[0]}"' not in second
    assert 'data-page="next"' not in second
    listed = console.page("/console/people?watchlist=nowhere", "olga")
    assert listed.status_code == 404 and "Not found" in listed.text


def test_a_reference_image_is_shown_only_through_its_audited_api_route(console: Console) -> None:
    person = enrol(console, "Jane Roe")
    page = console.page("/console/people", "olga").text
    assert f'data-action="show-reference" data-person-id="{person}"' in page  # people.js asks the API
    image = console.page(f"/api/persons/{person}/reference", "olga")  # by the page's session cookie
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png" and image.content == PNG_STUB
    assert image.headers["cache-control"] == "no-store"
    [viewed] = console.audited("person.reference_view")
    assert (viewed.actor, viewed.object, viewed.legal_basis) == ("olga", f"person:{person}", "s.2 Act")
    assert "sha256" in viewed.params

    assert console.page(f"/api/persons/{person}/reference?index=1", "olga").status_code == 404
    assert console.page("/api/persons/999/reference", "olga").status_code == 404
    refused = console.page(f"/api/persons/{person}/reference", "aude")  # the auditor: no faces
    assert refused.status_code == 403
    assert console.page(f"/api/persons/{person}/reference", None).status_code == 401
    assert len(console.audited("person.reference_view")) == 1
    assert console.page(f"/console/people/{person}/reference", "olga").status_code == 404  # one route


@pytest.mark.parametrize("path", ["/console/people"])
def test_signed_out_goes_to_sign_in_and_a_role_without_the_permission_is_refused(
    console: Console, path: str
) -> None:
    signed_out = console.page(path, None)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == f"/login?next={path}"
    refused = console.page(path, "ian")  # an investigator does not read watchlists
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html") and "Not allowed" in refused.text


@pytest.mark.data
def test_enrolment_by_upload_from_the_page_waits_then_is_approved(tmp_path: Path, shared_data: Path) -> None:
    for console in open_console(console_settings(tmp_path, models_dir=shared_data / "models")):
        photo = (shared_data / "face_recognition/examples/obama.jpg").read_bytes()
        form = {
            "name": "Barack Obama",
            "watchlist": "wanted",
            "category": "wanted",
            "source": "press photo",
            "legal_basis": "s.2 Act",
            "notes": "",
        }
        made = console.api(
            "POST", "/api/persons", "sam", data=form, files=[("images", ("obama.jpg", photo, "image/jpeg"))]
        )
        assert made.status_code == 201, made.text
        person, change = made.json()["person"]["id"], made.json()["change_id"]
        page = console.page("/console/people", "sue").text
        assert f'data-person-id="{person}" data-status="pending"' in page
        assert f'data-action="approve" data-change-id="{change}"' in page
        assert console.api("POST", f"/api/changes/{change}/approve", "sue").status_code == 200
        assert (
            f'data-person-id="{person}" data-status="active"' in console.page("/console/people", "sue").text
        )
        image = console.page(f"/api/persons/{person}/reference", "sue")
        assert image.status_code == 200 and image.content == photo
