"""Issue 13, finding 1: one admin passes the two-person rule alone. Replayed against the real
app (in process) and the real command line: an admin issuing a personal token for another
user is refused and audited; an account the admin made, re-armed or knows the password of
cannot be the second person of the admin's steps (refused as not independent, audited); the
honest path (each person signs in as themselves, an independent second) still works."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from citywatch.domain.audit import Actor
from citywatch.domain.records import ChangeStatus, NewReference
from citywatch.store.audit_tables import AuditRecord
from citywatch.store.governance_tables import ApiTokenRow
from tests.alerts.delivery.test_feed import raise_alert
from tests.integration.cli_helpers import Result, citywatch
from tests.store.helpers import JPEG_STUB, MODEL, vector
from tests.web.api.harness import Api, api_settings, open_api

PASSWORD = "a password of ada's choosing"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path))


def audited(api: Api, action: str) -> list[Any]:
    return [e for e in api.rt.audit_log.entries() if e.action == action]


def authorisation(reference: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "issuer": "District Court",
        "legal_basis": "Police Act s.12",
        "objective": "find missing child M.K.",
        "cameras": ["gate-1"],
        "ends_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }


def sock_puppet(api: Api, name: str, role: str = "supervisor") -> str:
    """Ada makes an account she knows the password of, signs in as it and issues its token
    herself: what she can still do, and what must not make it a second person."""
    made = api.call("POST", "/api/users", "ada", json={"name": name, "role": role, "password": PASSWORD})
    assert made.status_code == 201, made.text
    token = api.rt.users.issue_own_token(name, PASSWORD, "mine now").token
    # even "its own" password (set through its own sign-in) leaves it made by ada
    changed = call_as(
        api,
        token,
        "POST",
        "/api/me/password",
        json={"current_password": PASSWORD, "password": PASSWORD + "!"},
    )
    assert changed.status_code == 200, changed.text
    return token


def call_as(api: Api, token: str, method: str, path: str, **kwargs: Any) -> Any:
    return api.client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


# --- a token that acts as someone else ------------------------------------------------------


def test_an_admin_cannot_issue_a_personal_token_for_another_user_over_the_api(api: Api) -> None:
    before = len(api.rt.users.list_tokens("sam"))
    refused = api.call("POST", "/api/users/sam/tokens", "ada", json={"label": "borrowed"})
    assert refused.status_code == 403, refused.text
    assert "issued only to sam" in refused.json()["detail"] and "cw_" not in refused.text
    assert len(api.rt.users.list_tokens("sam")) == before  # nothing issued
    (record,) = audited(api, "token.issue_refused")
    assert (record.actor, record.object, record.params["service"]) == ("ada", "user:sam", False)
    assert "issued only to sam" in record.params["reason"]

    # a service token stays an admin's to issue, and decides nothing
    relay = api.call("POST", "/api/users/sam/tokens", "ada", json={"label": "relay", "service": True})
    assert relay.status_code == 201 and relay.json()["service"] is True
    api.call("POST", "/api/authorisations", "ada", json=authorisation("SVC-1"))
    as_relay = call_as(api, relay.json()["token"], "POST", "/api/authorisations/SVC-1/approve", json={})
    assert as_relay.status_code == 403 and "service token" in as_relay.json()["detail"]

    # an admin's own personal token, and anyone's own through /api/me/tokens, are fine
    assert api.call("POST", "/api/users/ada/tokens", "ada", json={"label": "laptop"}).status_code == 201
    own = api.call("POST", "/api/me/tokens", "sam", json={"label": "phone"})
    assert own.status_code == 201 and own.json()["user"] == "sam"
    assert own.headers["cache-control"] == "no-store"
    assert call_as(api, own.json()["token"], "GET", "/api/authorisations").status_code == 200
    issued = [(e.actor, e.params["user"], e.params["service"]) for e in audited(api, "token.issue")]
    assert ("sam", "sam", False) in issued
    assert [t for t in issued if t[0] != t[1]] == [("ada", "sam", True)]  # only the service token


def cli(tmp_path: Path, *args: str, **kwargs: Any) -> Result:
    return citywatch(tmp_path, tmp_path / "no-data", *args, timeout=60, **kwargs)


def test_an_admin_cannot_issue_a_personal_token_for_another_user_on_the_command_line(tmp_path: Path) -> None:
    for name, role in (("ada", "admin"), ("sam", "supervisor")):
        assert (
            cli(tmp_path, "user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n").code
            == 0
        )
    as_ada = {"CITYWATCH_PASSWORD": PASSWORD}

    refused = cli(
        tmp_path, "--user", "ada", "user", "token", "issue", "sam", "--label", "borrowed", env=as_ada
    )
    assert refused.code == 5 and "issued only to sam" in refused.stderr and "cw_" not in refused.stdout
    shell = cli(tmp_path, "user", "token", "issue", "sam", "--label", "borrowed")  # the shell user neither
    assert shell.code == 5 and "issued only to sam" in shell.stderr
    wrong = cli(
        tmp_path, "user", "token", "issue", "sam", "--label", "x", "--password-stdin", stdin="guess\n"
    )
    assert wrong.code == 5  # sam's password is what proves it is sam

    own = cli(
        tmp_path,
        "user",
        "token",
        "issue",
        "sam",
        "--label",
        "laptop",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert own.code == 0 and own.stdout.strip().startswith("cw_"), own.stderr
    me = cli(tmp_path, "user", "whoami", env={"CITYWATCH_TOKEN": own.stdout.strip()})
    assert me.stdout.strip() == "sam, role supervisor, cameras: all"

    records = cli(tmp_path, "audit", "list", "--json").json_lines()
    refusals = [(r["actor"], r["object"]) for r in records if r["action"] == "token.issue_refused"]
    assert refusals[0] == ("ada", "user:sam") and refusals[1][1] == "user:sam"
    assert [(r["actor"], r["params"]["user"]) for r in records if r["action"] == "token.issue"] == [
        ("sam", "sam")
    ]


# --- a second person the first person made --------------------------------------------------


def test_an_admin_cannot_approve_their_own_authorisation_with_a_supervisor_they_created(api: Api) -> None:
    assert api.call("POST", "/api/authorisations", "ada", json=authorisation("W-1")).status_code == 201
    puppet = sock_puppet(api, "sid")
    refused = call_as(api, puppet, "POST", "/api/authorisations/W-1/approve", json={"note": "fine"})
    assert refused.status_code == 403
    assert (
        "ada created sid" in refused.json()["detail"] and "not independent of ada" in refused.json()["detail"]
    )
    assert api.call("GET", "/api/authorisations", "aude").json()["items"][0]["status"] == "pending"
    (record,) = audited(api, "authorisation.decide_refused")
    assert record.actor == "sid" and "not independent" in record.params["reason"]

    # sue, whom ada neither made nor gave a password or token, approves it
    approved = api.call("POST", "/api/authorisations/W-1/approve", "sue", json={"note": "checked"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"


def test_an_admin_cannot_approve_their_own_enrolment_with_a_supervisor_they_created(api: Api) -> None:
    api.rt.watchlists.create_watchlist("wanted")
    person = api.rt.watchlists.enroll(
        [NewReference(JPEG_STUB, ".jpg", "warrant", "s.2 Act", MODEL, vector(3))],
        watchlist_name="wanted",
        display_name="Jane Roe",
        proposer=Actor("ada", "admin"),
    )
    (change,) = api.rt.changes.list_changes()
    assert change.proposed_by == "ada" and change.object == f"person:{person.id}"
    puppet = sock_puppet(api, "sid")
    refused = call_as(api, puppet, "POST", f"/api/changes/{change.id}/approve")
    assert refused.status_code == 403 and "not independent of ada" in refused.json()["detail"]
    assert api.rt.changes.get(change.id).status is ChangeStatus.PENDING
    (record,) = audited(api, "change.approve_refused")
    assert record.actor == "sid" and "ada created sid" in record.params["reason"]

    # the looser threshold ada asks for over the API: the same
    raised = api.call("POST", "/api/watchlists/wanted/threshold", "ada", json={"value": 0.9})
    assert raised.status_code in {200, 202}, raised.text
    pending = [c for c in api.rt.changes.list_changes() if c.id != change.id]
    assert call_as(api, puppet, "POST", f"/api/changes/{pending[0].id}/approve").status_code == 403

    assert api.call("POST", f"/api/changes/{change.id}/approve", "sam").status_code == 200  # independent


def test_setting_a_supervisors_password_makes_them_no_second_person_for_the_admin(api: Api) -> None:
    """The password-set variant: ada takes over sue's existing account by setting its password."""
    assert api.call("POST", "/api/authorisations", "ada", json=authorisation("W-2")).status_code == 201
    assert api.call("POST", "/api/users/sue/password", "ada", json={"password": PASSWORD}).status_code == 200
    taken = api.rt.users.issue_own_token("sue", PASSWORD, "taken over")
    refused = call_as(api, taken.token, "POST", "/api/authorisations/W-2/approve", json={})
    assert refused.status_code == 403 and "sue's current password was set by ada" in refused.json()["detail"]

    # sue sets her own password: she no longer shares it with ada, but ada set it within the window
    changed = call_as(
        api,
        taken.token,
        "POST",
        "/api/me/password",
        json={"current_password": PASSWORD, "password": "sue's very own secret"},
    )
    assert changed.status_code == 200, changed.text
    still = call_as(api, taken.token, "POST", "/api/authorisations/W-2/approve", json={})
    assert still.status_code == 403 and "ada set the password of sue" in still.json()["detail"]
    reasons = [e.params["reason"] for e in audited(api, "authorisation.decide_refused")]
    assert len(reasons) == 2 and all("not independent of ada" in r for r in reasons)
    # sam, untouched by ada, approves
    assert api.call("POST", "/api/authorisations/W-2/approve", "sam", json={}).status_code == 200


def _time_passes(api: Api, days: int) -> None:
    """Everything on record happened `days` earlier (the audit log's times, the tokens'
    issue times): how a test lets a credential outlive the independence window."""
    with api.rt.database.session() as session:
        for record in session.scalars(select(AuditRecord)):
            record.at = (datetime.fromisoformat(record.at) - timedelta(days=days)).isoformat()
        for token in session.scalars(select(ApiTokenRow)):
            token.created_at -= timedelta(days=days)


def test_a_token_obtained_with_a_password_the_admin_set_outlives_the_window_but_not_the_rule(
    api: Api,
) -> None:
    """Ada sets sue's password, signs in as sue and issues "sue's" token; sue then sets her
    own password. Once the window has passed, rules (a) and (b) see nothing, but ada still
    holds a token acting as sue: rule (c) refuses it until that token is revoked."""
    assert api.call("POST", "/api/users/sue/password", "ada", json={"password": PASSWORD}).status_code == 200
    kept = api.rt.users.issue_own_token("sue", PASSWORD, "kept by ada")
    own = {"current_password": PASSWORD, "password": "sue's very own secret"}
    assert call_as(api, kept.token, "POST", "/api/me/password", json=own).status_code == 200
    # ... and a second token issued with the first, after sue's own password: ada could too
    chained = call_as(api, kept.token, "POST", "/api/me/tokens", json={"label": "chained"})
    assert chained.status_code == 201, chained.text
    _time_passes(api, 31)

    assert api.call("POST", "/api/authorisations", "ada", json=authorisation("W-9")).status_code == 201
    refused = call_as(api, kept.token, "POST", "/api/authorisations/W-9/approve", json={})
    assert refused.status_code == 403, refused.text
    detail = refused.json()["detail"]
    assert f"sue holds personal token {kept.id}" in detail and "not independent of ada" in detail
    assert api.call("POST", f"/api/tokens/{kept.id}/revoke", "ada").status_code == 200
    # the chained token was issued while ada could hold the first: refused as well
    later = call_as(api, chained.json()["token"], "POST", "/api/authorisations/W-9/approve", json={})
    assert later.status_code == 403
    assert f"sue holds personal token {chained.json()['id']}" in later.json()["detail"]
    reasons = [e.params["reason"] for e in audited(api, "authorisation.decide_refused")]
    assert len(reasons) == 2 and all("must revoke it" in r for r in reasons)

    revoked = api.call("POST", f"/api/tokens/{chained.json()['id']}/revoke", "ada")
    assert revoked.status_code == 200
    # what sue issues herself with her own password is hers alone: she is independent now
    mine = api.rt.users.issue_own_token("sue", "sue's very own secret", "mine")
    approved = call_as(api, mine.token, "POST", "/api/authorisations/W-9/approve", json={})
    assert approved.status_code == 200, approved.text


def test_a_wrong_current_password_changes_nothing(api: Api) -> None:
    wrong = api.call(
        "POST", "/api/me/password", "sam", json={"current_password": "nope", "password": PASSWORD}
    )
    assert wrong.status_code in {401, 403}
    assert audited(api, "user.password") == []
    assert [e.object for e in audited(api, "user.login_failed")] == ["user:sam"]


def test_an_admin_cannot_confirm_an_alert_with_an_operator_they_created(api: Api) -> None:
    """Two people confirm an alert: ada makes an operator, takes a role that confirms, and
    confirms first; her operator's confirmation is refused."""
    alert_id = raise_alert(api.rt, camera_id="gate-1")
    puppet = sock_puppet(api, "otis", role="operator")
    assert api.call("POST", "/api/users/ada/role", "ada", json={"role": "supervisor"}).status_code == 200
    assert api.call("POST", f"/api/alerts/{alert_id}/confirm", "ada").status_code == 200
    refused = call_as(api, puppet, "POST", f"/api/alerts/{alert_id}/confirm")
    assert refused.status_code == 403 and "ada created otis" in refused.json()["detail"]
    (record,) = audited(api, "alert.confirm_refused")
    assert record.actor == "otis" and "not independent of ada" in record.params["reason"]
    confirmed = api.call("POST", f"/api/alerts/{alert_id}/confirm", "olga")  # independent
    assert confirmed.status_code == 200 and confirmed.json()["alert"]["status"] == "confirmed"


def test_an_admin_cannot_approve_their_own_police_request_with_a_supervisor_they_created(api: Api) -> None:
    now = datetime.now(UTC)
    filed = api.call(
        "POST",
        "/api/requests",
        "ada",
        json={
            "reference": "MET-1",
            "requester": "Metropolitan Police, DC Shaw",
            "contact": "dc.shaw@example.org",
            "cameras": ["gate-1"],
            "starts_at": (now - timedelta(hours=2)).isoformat(),
            "ends_at": (now - timedelta(hours=1)).isoformat(),
        },
    )
    assert filed.status_code == 201, filed.text
    puppet = sock_puppet(api, "sid")
    refused = call_as(api, puppet, "POST", f"/api/requests/{filed.json()['id']}/approve")
    assert refused.status_code == 403 and "not independent of ada" in refused.json()["detail"]
    (record,) = audited(api, "request.decide_refused")
    assert record.actor == "sid" and record.params["filed_by"] == "ada"


def test_there_is_no_way_to_re_enable_a_disabled_account(api: Api) -> None:
    """The re-enable variant: disabling is for good, so no account can be re-armed for a
    second person (the independence rule counts `user.enable` should it ever exist)."""
    assert api.call("POST", "/api/users/sue/disable", "ada").status_code == 200
    assert api.call("POST", "/api/users/sue/enable", "ada").status_code in {404, 405}
    assert (
        api.call("POST", "/api/users/sue/tokens", "ada", json={"label": "x", "service": True}).status_code
        == 409
    )


# --- two accounts of one admin's making (rule (d)) --------------------------------------------


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
    api.rt.watchlists.create_watchlist("wanted")
    sid = sock_puppet(api, "sid")
    raised = call_as(api, sid, "POST", "/api/watchlists/wanted/threshold", json={"value": 0.9})
    assert raised.status_code == 200, raised.text
    (change,) = api.rt.changes.list_changes()
    api.rt.users.set_role("ada", "supervisor")  # an admin approves no change; ada as a supervisor
    refused = api.call("POST", f"/api/changes/{change.id}/approve", "ada")
    assert refused.status_code == 403, refused.text
    assert "sid owes their account to ada" in refused.json()["detail"]
    assert api.call("POST", f"/api/changes/{change.id}/approve", "sam").status_code == 200
