"""Review 2 of the two-person rule: one admin passes a step with two accounts of their own
making, neither being the admin. The rule judged the second account against the first only,
so an account the admin owes nothing to (a puppet) could start a step and another puppet, or
the admin, complete it; and a puppet admin could make the second person for the real one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citywatch.audit.two_person import AccountEvent, AccountHistory, Owner, independence_problem, owed_to
from tests.api.harness import Api, api_settings, open_api
from tests.security.test_duties import PASSWORD, audited, authorisation, call_as, sock_puppet


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path))


def test_two_accounts_the_admin_made_are_not_two_people(api: Api) -> None:
    """Ada makes supervisors sid and tom; sid asks for an authorisation, tom approves it."""
    sid = sock_puppet(api, "sid")
    tom = sock_puppet(api, "tom")
    assert call_as(api, sid, "POST", "/api/authorisations", json=authorisation("W-7")).status_code == 201
    refused = call_as(api, tom, "POST", "/api/authorisations/W-7/approve", json={})
    assert refused.status_code == 403, refused.text
    assert "not independent of sid" in refused.json()["detail"] and "ada" in refused.json()["detail"]
    (record,) = audited(api, "authorisation.decide_refused")
    assert record.actor == "tom"
    # sue, whom ada did not make, approves it
    assert api.call("POST", "/api/authorisations/W-7/approve", "sue", json={}).status_code == 200


def test_a_puppet_and_an_account_the_admin_took_over_are_not_two_people(api: Api) -> None:
    """Ada makes supervisor sid and sets sam's password: sid asks, "sam" approves."""
    sid = sock_puppet(api, "sid")
    assert api.call("POST", "/api/users/sam/password", "ada", json={"password": PASSWORD}).status_code == 200
    sam = api.rt.users.issue_own_token("sam", PASSWORD, "taken over").token
    assert call_as(api, sid, "POST", "/api/authorisations", json=authorisation("W-8")).status_code == 201
    refused = call_as(api, sam, "POST", "/api/authorisations/W-8/approve", json={})
    assert refused.status_code == 403, refused.text
    assert "not independent of sid" in refused.json()["detail"]


def test_an_account_made_by_an_admin_the_first_made_is_not_independent(api: Api) -> None:
    """Ada makes admin dave, signs in as dave and makes supervisor eve: eve owes ada as much."""
    dave = sock_puppet(api, "dave", role="admin")
    eve_account = {"name": "eve", "role": "supervisor", "password": PASSWORD}
    made = call_as(api, dave, "POST", "/api/users", json=eve_account)
    assert made.status_code == 201, made.text
    eve = api.rt.users.issue_own_token("eve", PASSWORD, "mine").token
    assert api.call("POST", "/api/authorisations", "sam", json=authorisation("W-9")).status_code == 201
    # sam is not ada: an account ada's puppet made is still independent of sam
    ok = call_as(api, eve, "POST", "/api/authorisations/W-9/approve", json={})
    assert ok.status_code == 200, ok.text

    assert api.call("POST", "/api/authorisations", "ada", json=authorisation("W-11")).status_code == 201
    refused = call_as(api, eve, "POST", "/api/authorisations/W-11/approve", json={})
    assert refused.status_code == 403, refused.text
    detail = refused.json()["detail"]
    assert "eve owes their account to ada" in detail and "ada created dave" in detail
    assert "not independent of ada" in detail


def test_the_admin_cannot_approve_what_a_puppet_asked_for(api: Api) -> None:
    """Ada makes supervisor sid; sid proposes a looser threshold; ada approves it."""
    api.rt.store.create_watchlist("wanted")
    sid = sock_puppet(api, "sid")
    raised = call_as(api, sid, "POST", "/api/watchlists/wanted/threshold", json={"value": 0.9})
    assert raised.status_code == 200, raised.text
    (change,) = api.rt.changes.list_changes()
    api.rt.users.set_role("ada", "supervisor")  # an admin approves no change; ada as a supervisor
    refused = api.call("POST", f"/api/changes/{change.id}/approve", "ada")
    assert refused.status_code == 403, refused.text
    assert "sid owes their account to ada" in refused.json()["detail"]
    assert api.call("POST", f"/api/changes/{change.id}/approve", "sam").status_code == 200


def test_the_local_role_and_the_system_own_no_account() -> None:
    """Who set up the accounts from the shell, or the system, is nobody's common owner: else
    every account made at setup would owe itself to them, and no two could be two people."""
    at = datetime(2026, 12, 1, tzinfo=UTC)
    made = (
        AccountEvent("user.add", "root@local", at),
        AccountEvent("user.add", "system", at),
        AccountEvent("user.password", "ada", at),
    )
    history = AccountHistory("tom", at, made, password_set_by="citywatch@system")
    assert [o.person for o in owed_to(history)] == ["ada"]
    history = replace(history, owners=owed_to(history))
    ours = (Owner("root", "root@local created sid"),)
    assert independence_problem("sid", history, ours) is None
    problem = independence_problem("sid", history, (Owner("Ada", "ada created sid"),))
    assert problem is not None and "both owe their accounts to Ada" in problem
