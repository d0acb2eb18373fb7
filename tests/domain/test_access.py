"""`can(actor, permission, camera)` as a table: every role × every permission, written out
here rather than derived from GRANTS, then camera scope; and `require_cameras`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.cli.permissions import require_cameras
from citywatch.config.settings import Settings
from citywatch.domain.access import Permission, Role, can
from citywatch.domain.audit import Actor
from citywatch.domain.errors import PermissionDenied
from citywatch.runtime.build import Runtime

P = Permission
EVERY = frozenset(Permission) - {P.PUBLIC}

EXPECTED: dict[str, frozenset[Permission]] = {
    "admin": frozenset(
        {
            P.SYSTEM_MANAGE,
            P.USERS_MANAGE,
            P.ACCOUNT_SELF,
            P.POLICY_READ,
            P.POLICY_MANAGE,
            P.CAMERAS_RUN,
            P.CAMERAS_MANAGE,
            P.WATCHLISTS_READ,
            P.WATCHLISTS_MANAGE,
            P.AUTHORISATIONS_READ,
            P.AUTHORISATIONS_REQUEST,
            P.SIGHTINGS_READ,
            P.ALERTS_READ,
            P.FACES_VERIFY,
            P.AUDIT_READ,
            P.BENCHMARK,
            P.RETENTION_PURGE,
            P.RECEIPTS_READ,
            P.REQUESTS_READ,
            P.REQUESTS_FILE,
            P.EXPORTS_VERIFY,
            P.ORDERS_READ,
            P.METRICS_READ,
        }
    ),
    "supervisor": frozenset(
        {
            P.ACCOUNT_SELF,
            P.POLICY_READ,
            P.WATCHLISTS_READ,
            P.WATCHLISTS_MANAGE,
            P.CHANGES_APPROVE,
            P.AUTHORISATIONS_READ,
            P.AUTHORISATIONS_REQUEST,
            P.AUTHORISATIONS_DECIDE,
            P.SIGHTINGS_READ,
            P.ALERTS_READ,
            P.ALERTS_ACT,
            P.FACES_VERIFY,
            P.HOLDS_MANAGE,
            P.RECEIPTS_READ,
            P.REQUESTS_READ,
            P.REQUESTS_FILE,
            P.REQUESTS_DECIDE,
            P.EXPORTS_VERIFY,
            P.ORDERS_READ,
            P.ORDERS_MANAGE,
        }
    ),
    "operator": frozenset(
        {
            P.ACCOUNT_SELF,
            P.POLICY_READ,
            P.ALERTS_READ,
            P.ALERTS_ACT,
            P.SIGHTINGS_READ,
            P.WATCHLISTS_READ,
            P.ORDERS_READ,
        }
    ),
    "investigator": frozenset(
        {
            P.ACCOUNT_SELF,
            P.CASE_SEARCH,
            P.SIGHTINGS_READ,
            P.FACES_VERIFY,
            P.AUTHORISATIONS_READ,
            P.AUTHORISATIONS_REQUEST,
            P.HOLDS_MANAGE,
            P.REQUESTS_READ,
            P.REQUESTS_FILE,
            P.EXPORTS_VERIFY,
        }
    ),
    "auditor": frozenset(
        {
            P.ACCOUNT_SELF,
            P.AUDIT_READ,
            P.POLICY_READ,
            P.AUTHORISATIONS_READ,
            P.RECEIPTS_READ,
            P.REQUESTS_READ,
            P.EXPORTS_VERIFY,
            P.ORDERS_READ,
        }
    ),
    "local": EVERY,
    "stranger": frozenset(),  # a role citywatch does not know: nothing but PUBLIC
    "": frozenset(),
    "ADMIN": frozenset(),  # roles are exact, not case-folded
}


def test_the_table_covers_every_role_and_permission() -> None:
    assert {str(r) for r in Role} <= EXPECTED.keys()
    # a new permission fails here until a role of EXPECTED is given it by hand
    named = set().union(*(perms for role, perms in EXPECTED.items() if role != "local"))
    assert named | {P.PUBLIC} == set(Permission)


@pytest.mark.parametrize("permission", list(Permission), ids=str)
@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda r: r or "(blank)")
def test_role_by_permission(role: str, permission: Permission) -> None:
    allowed = permission is P.PUBLIC or permission in EXPECTED[role]
    assert can(Actor("someone", role), permission) is allowed
    # unscoped: every camera
    assert can(Actor("someone", role), permission, "gate-1") is allowed


SCOPED = frozenset({"gate-1", "gate-2"})


@pytest.mark.parametrize(
    ("role", "cameras", "permission", "camera", "allowed"),
    [
        # in scope, out of scope, no camera named
        ("operator", SCOPED, P.ALERTS_READ, "gate-1", True),
        ("operator", SCOPED, P.ALERTS_READ, "gate-2", True),
        ("operator", SCOPED, P.ALERTS_READ, "lobby", False),
        ("operator", SCOPED, P.ALERTS_READ, None, True),
        ("operator", SCOPED, P.ALERTS_READ, "GATE-1", False),  # ids are exact
        # the scope never adds what the role lacks
        ("operator", SCOPED, P.CAMERAS_RUN, "gate-1", False),
        ("operator", SCOPED, P.WATCHLISTS_MANAGE, None, False),
        ("admin", SCOPED, P.CAMERAS_RUN, "gate-1", True),
        ("admin", SCOPED, P.CAMERAS_RUN, "lobby", False),
        ("investigator", frozenset({"lobby"}), P.CASE_SEARCH, "lobby", True),
        ("investigator", frozenset({"lobby"}), P.CASE_SEARCH, "gate-1", False),
        # an empty scope: no camera at all, but actions on no camera still go by role
        ("supervisor", frozenset(), P.ALERTS_ACT, "gate-1", False),
        ("supervisor", frozenset(), P.ALERTS_ACT, None, True),
        # unscoped
        ("operator", None, P.ALERTS_READ, "lobby", True),
        ("local", None, P.CAMERAS_RUN, "anything", True),
        # PUBLIC ignores the scope; unknown roles get nothing else, scoped or not
        ("operator", SCOPED, P.PUBLIC, "lobby", True),
        ("stranger", None, P.ALERTS_READ, "gate-1", False),
        ("stranger", SCOPED, P.ALERTS_READ, "gate-1", False),
        ("stranger", SCOPED, P.PUBLIC, "gate-1", True),
    ],
)
def test_camera_scope(
    role: str, cameras: frozenset[str] | None, permission: Permission, camera: str | None, allowed: bool
) -> None:
    assert can(Actor("someone", role, cameras), permission, camera) is allowed


def test_a_service_token_changes_nothing_about_permissions() -> None:
    for permission in Permission:
        person = Actor("svc", "operator", SCOPED)
        machine = Actor("svc", "operator", SCOPED, service=True)
        assert can(person, permission, "gate-1") is can(machine, permission, "gate-1")


# --- require_cameras ----------------------------------------------------------------------


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path))
    yield runtime
    runtime.close()


def test_cameras_in_scope_pass_without_a_record(rt: Runtime) -> None:
    rt.actor = Actor("olga", "admin", SCOPED)
    require_cameras(rt, P.CAMERAS_RUN, ["gate-2", "gate-1", "gate-1"], "citywatch run")
    assert rt.audit_log.entries() == []


def test_cameras_out_of_scope_are_named_and_the_refusal_audited(rt: Runtime) -> None:
    rt.actor = Actor("olga", "admin", SCOPED)
    with pytest.raises(
        PermissionDenied, match=r"olga may not use camera\(s\) lobby, roof \(limited to: gate-1, gate-2\)"
    ):
        require_cameras(rt, P.CAMERAS_RUN, ["roof", "gate-1", "lobby"], "citywatch run")
    (record,) = rt.audit_log.entries()
    assert (record.action, record.object, record.actor, record.role) == (
        "access.refused",
        "command:citywatch run",
        "olga",
        "admin",
    )
    assert record.params == {"permission": "cameras.run", "cameras": ["lobby", "roof"]}


def test_a_role_without_the_permission_is_refused_for_every_camera(rt: Runtime) -> None:
    rt.actor = Actor("otto", "operator")
    with pytest.raises(
        PermissionDenied, match=r"needs the cameras\.run permission, which role operator lacks"
    ):
        require_cameras(rt, P.CAMERAS_RUN, ["gate-1"], "citywatch watch")
    (record,) = rt.audit_log.entries()
    assert record.params == {"permission": "cameras.run", "cameras": ["gate-1"]}
