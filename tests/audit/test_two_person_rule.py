"""The two-person rule as tables: who may complete what someone else started, who is
independent of whom, and who may be issued a token."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from citywatch.audit.two_person import (
    AccountEvent,
    AccountHistory,
    Credential,
    Owner,
    independence_problem,
    owed_to,
    second_person_problem,
    token_issue_problem,
)
from citywatch.domain.access import Permission
from citywatch.domain.audit import Actor

ANN = Actor("ann", "supervisor")
BOB = Actor("bob", "supervisor")
APPROVE = Permission.CHANGES_APPROVE
ACT = Permission.ALERTS_ACT


@pytest.mark.parametrize(
    ("first", "second", "permission", "problem"),
    [
        (ANN, BOB, APPROVE, None),
        (ANN, Actor("carl", "operator"), ACT, None),
        (Actor("ann@local", "local"), Actor("bob", "supervisor"), APPROVE, None),  # local may start
        (Actor("bob", "supervisor"), Actor("ann@local", "local"), APPROVE, "has not signed in"),
        (Actor("ann@local", "local"), Actor("bob@local", "local"), APPROVE, "has not signed in"),
        (Actor("ann", "operator"), BOB, APPROVE, None),  # the proposer's own role does not matter
        (ANN, ANN, APPROVE, "ann was the first person and cannot also be the second"),
        (ANN, Actor("ann", "admin"), APPROVE, "ann was the first person"),  # a role change is no new person
        (ANN, Actor(" ANN ", "supervisor"), APPROVE, "was the first person"),  # names compare loosely
        (Actor("ann@local", "local"), Actor("ann@local", "local"), APPROVE, "has not signed in"),
        # ann's own shell account starting it makes ann the first person too
        (Actor("ann@local", "local"), ANN, APPROVE, "ann was the first person"),
        (Actor("ANN@local", "local"), ANN, APPROVE, "was the first person"),
        (Actor("joann@local", "local"), ANN, APPROVE, None),  # not a suffix match
        (ANN, Actor("bot", "supervisor", service=True), APPROVE, "bot acts through a service token"),
        (Actor("bot", "supervisor", service=True), BOB, APPROVE, "bot acts through a service token"),
        (
            ANN,
            Actor("carl", "operator"),
            APPROVE,
            "carl (role operator) lacks the changes.approve permission",
        ),
        (ANN, Actor("dee", "admin"), APPROVE, "lacks the changes.approve permission"),  # admins run systems
        (ANN, Actor("eve", "auditor"), ACT, "lacks the alerts.act permission"),
        (ANN, Actor("x", "no-such-role"), APPROVE, "lacks the changes.approve permission"),
    ],
)
def test_second_person_problem(
    first: Actor, second: Actor, permission: Permission, problem: str | None
) -> None:
    found = second_person_problem(first, second, permission)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
        assert f"the {permission} permission" in found  # says what is missing


# --- independence: the second must not owe their account to the first ----------------------

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SINCE = T - timedelta(days=30)


def history(*events: tuple[str, str, timedelta], password_set_by: str | None = "bob") -> AccountHistory:
    """Bob's account: (action, by, how long before T) events, and who set his password."""
    return AccountHistory(
        "bob", SINCE, tuple(AccountEvent(a, by, T - ago) for a, by, ago in events), password_set_by
    )


DAY = timedelta(days=1)


def _expect(found: str | None, problem: str | None) -> str | None:
    """`found` is None when no `problem` is expected, else a reason that contains it."""
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found
    return found


@pytest.mark.parametrize(
    ("hist", "problem"),
    [
        (history(), None),  # bob set his own password, nobody did anything to his account
        (history(("user.add", "ann", DAY)), "ann created bob on 2026-02-28"),
        (history(("user.enable", "ann", DAY)), "ann re-enabled bob"),
        (history(("user.password", "ann", DAY)), "ann set the password of bob"),
        (history(("token.issue", "ann", DAY)), "ann issued a personal token to bob"),
        (history(("user.add", "ann", 29 * DAY)), "ann created bob"),  # inside the window
        (history(("user.add", "ann", 30 * DAY)), "ann created bob"),  # its first instant counts
        (history(("user.add", "ann", 31 * DAY)), None),  # before the window
        (history(("user.add", "carl", DAY)), None),  # someone else created him
        (history(("user.add", "ann@local", DAY)), "ann@local created bob"),  # ann's own shell account
        (history(("user.add", "joann@local", DAY)), None),  # not a suffix match
        (history(("user.add", "ANN ", DAY)), "created bob"),  # names compare loosely
        (history(("user.role", "ann", DAY)), None),  # giving a role hands over no credential
        (history(password_set_by="ann"), "bob's current password was set by ann"),  # however long ago
        (history(password_set_by="ann@local"), "current password was set by ann"),
        (history(password_set_by=None), None),  # no password: tokens only, issued by bob
        (history(("user.add", "ann", 400 * DAY), password_set_by="ann"), "current password was set by ann"),
    ],
)
def test_independence_problem(hist: AccountHistory, problem: str | None) -> None:
    found = _expect(independence_problem("ann", hist), problem)
    assert found is None or "not independent of ann" in found or "must set their own password" in found


def token(
    ident: int,
    issued: timedelta,
    password_by: str | None,
    ended: timedelta | None = None,
    *,
    live: bool | None = None,
    session: bool = False,
) -> Credential:
    """Bob's credential issued `issued` before T under a password `password_by` set, ended
    `ended` before T (None: not ended)."""
    ended_at = None if ended is None else T - ended
    return Credential(
        ident, T - issued, ended_at, ended is None if live is None else live, password_by, session=session
    )


def with_tokens(*credentials: Credential) -> AccountHistory:
    """Bob, independent by rules (a) and (b) (his own password now, nothing in the window)."""
    return AccountHistory("bob", SINCE, (), "bob", credentials)


@pytest.mark.parametrize(
    ("hist", "problem"),
    [
        (with_tokens(), None),
        (with_tokens(token(1, 90 * DAY, "bob")), None),  # issued under his own password
        (with_tokens(token(1, 90 * DAY, "ann")), "bob holds personal token 1, issued on 2025-12-01"),
        (with_tokens(token(1, 90 * DAY, "ann@local")), "holds personal token 1"),
        (with_tokens(token(1, 90 * DAY, "ann", ended=DAY)), None),  # revoked since
        (with_tokens(token(1, 90 * DAY, "ann", ended=-DAY, live=True)), "holds personal token 1"),
        (with_tokens(token(1, 90 * DAY, "carl")), None),  # carl could have, not ann
        (with_tokens(token(1, 90 * DAY, None)), None),  # no password then: issued with a token of his
        # issued with a token ann could hold, while it was live: ann could have issued it
        (with_tokens(token(1, 90 * DAY, "ann", ended=DAY), token(2, 60 * DAY, "bob")), "personal token 2"),
        (with_tokens(token(1, 90 * DAY, "ann", ended=70 * DAY), token(2, 60 * DAY, "bob")), None),
        (  # and so on down the chain
            with_tokens(
                token(1, 90 * DAY, "ann", ended=80 * DAY),
                token(2, 85 * DAY, "bob", ended=DAY),
                token(3, 60 * DAY, "bob"),
            ),
            "personal token 3",
        ),
        (
            with_tokens(token(1, 90 * DAY, "ann", session=True, ended=-DAY, live=True)),
            "holds console session 1",
        ),
    ],
)
def test_a_credential_the_first_could_have_obtained_makes_the_second_not_independent(
    hist: AccountHistory, problem: str | None
) -> None:
    found = _expect(independence_problem("ann", hist), problem)
    assert found is None or ("not independent of ann" in found and "must revoke it" in found)


def test_second_person_problem_judges_independence_last() -> None:
    dependent = history(("user.add", "ann", DAY))
    assert second_person_problem(ANN, BOB, APPROVE) is None
    assert "ann created bob" in (second_person_problem(ANN, BOB, APPROVE, dependent) or "")
    # the other rules still speak first
    assert "first person" in (second_person_problem(ANN, ANN, APPROVE, dependent) or "")


# --- tokens: a personal token only to its owner, signed in as themselves ---------------------


@pytest.mark.parametrize(
    ("by", "owner", "service", "problem"),
    [
        (Actor("sam", "supervisor"), "sam", False, None),  # one's own personal token
        (Actor("ada", "admin"), "ada", False, None),
        (Actor("ada", "admin"), "sam", False, "a personal token for sam is issued only to sam"),
        (Actor("Sam ", "supervisor"), "sam", False, None),  # names compare loosely
        (Actor("root@local", "local"), "sam", False, "issued only to sam"),  # the shell is not sam
        (Actor("sam@local", "local"), "sam", False, "issued only to sam"),  # nor is sam's shell account
        (Actor("sam", "supervisor", service=True), "sam", False, "cannot issue tokens"),
        (Actor("ada", "admin"), "relay", True, None),  # an admin's to issue: decides nothing
        (Actor("root@local", "local"), "relay", True, None),
        (Actor("sam", "supervisor"), "sam", True, "lacks the users.manage permission"),
        (Actor("ada", "admin", service=True), "relay", True, "cannot issue tokens"),
    ],
)
def test_token_issue_problem(by: Actor, owner: str, service: bool, problem: str | None) -> None:
    found = token_issue_problem(by, owner, service=service)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


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
