"""The audit log in a real browser: an auditor opens it, filters it by actor, and clicks
Verify to see the chain's verdict; a record edited behind the log's back is found."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from citywatch.store.audit_tables import AuditRecord
from tests.browser.conftest import SignedIn
from tests.browser.harness import Console, console_settings, serve
from tests.browser.pw import Page, expect

pytestmark = pytest.mark.browser


def verify(page: Page) -> None:
    page.get_by_role("button", name="Verify the chain").click()


def test_an_auditor_filters_the_log_and_verifies_it(signed_in: SignedIn, console: Console) -> None:
    signed_in(console, "sam")  # something to find: Sam's sign-in
    page = signed_in(console, "aude")
    page.goto(console.at("/console/audit"))
    rows = page.locator("table[data-audit-records] tbody tr[data-seq]")
    expect(rows.first).to_be_visible()

    page.get_by_label("Actor").fill("sam")
    page.get_by_role("button", name="Filter").click()
    expect(rows.first).to_be_visible()
    assert {rows.nth(i).get_attribute("data-actor") for i in range(rows.count())} == {"sam"}

    recorded = len(console.rt.audit_log.entries())
    verify(page)
    verdict = page.locator("[data-verify-result]")
    expect(verdict).to_have_attribute("data-ok", "true")
    expect(verdict).to_contain_text("Chain intact")
    assert int(verdict.get_attribute("data-records") or "0") >= recorded


def test_a_tampered_record_is_reported(signed_in: SignedIn, tmp_path: Path) -> None:
    with serve(console_settings(tmp_path)) as tampered:
        page = signed_in(tampered, "aude")
        page.goto(tampered.at("/console/audit"))
        with tampered.rt.database.session() as session:
            session.execute(update(AuditRecord).where(AuditRecord.seq == 1).values(actor="mallory"))
        verify(page)
        verdict = page.locator("[data-verify-result]")
        expect(verdict).to_have_attribute("data-ok", "false")
        expect(verdict).to_contain_text("Chain BROKEN at record 1")
