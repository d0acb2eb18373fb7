"""The two-person rule as a table: who may complete what someone else started."""

from __future__ import annotations

import pytest

from citywatch.audit.access import Permission
from citywatch.audit.two_person import second_person_problem
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
