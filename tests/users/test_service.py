"""UserService: argon2id passwords, hashed tokens, sign-in, validation, and the audit of each."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.audit.chain import AuditEntry
from citywatch.audit.keys import load_or_create
from citywatch.audit.log import AuditLog
from citywatch.domain.audit import Actor, AuditEvent
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from citywatch.store.db import Database, open_database
from citywatch.store.governance_tables import ApiTokenRow, UserRow
from citywatch.users.service import LOGIN_FAILED, UserService
from tests.fakes.accounts import owner
from tests.store.helpers import T0, db_url

PASSWORD = "correct horse battery staple"
ROOT = Actor("root@local", "local")
"""Whoever runs the command line: issues service tokens."""
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
"""Still argon2id, only cheaper, to keep the tests quick."""


@dataclass
class Env:
    db: Database
    log: AuditLog
    folder: Path
    users: UserService = field(init=False)

    def __post_init__(self) -> None:
        self.users = self.store()

    def entries(self) -> list[AuditEntry]:
        return self.log.entries()

    def last(self) -> AuditEntry:
        return self.entries()[-1]

    def store(self, hasher: PasswordHasher | None = CHEAP) -> UserService:
        return UserService(self.db, self.hook, lambda: T0, hasher=hasher)

    def hook(self, session: Session, event: AuditEvent) -> None:
        self.log.append(
            session,
            actor="root@local",
            role="local",
            action=event.action,
            object=event.object,
            params=event.params,
            result_count=event.result_count,
        )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    folder = tmp_path / "db"
    db = open_database(db_url(folder / "citywatch.db"))
    yield Env(db, AuditLog(db, load_or_create(tmp_path)), folder)
    db.close()


def user_row(env: Env, name: str) -> UserRow:
    with env.db.session(write=False) as session:
        return session.scalars(select(UserRow).where(UserRow.name == name)).one()


# --- passwords and tokens at rest ---------------------------------------------------------


def test_the_password_is_stored_as_an_argon2id_hash(env: Env) -> None:
    env.store(hasher=None).add_user("alice", "supervisor", None, PASSWORD)  # the real parameters
    stored = user_row(env, "alice").password_hash
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert "m=65536" in stored  # memory-hard: 64 MiB
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


def test_no_password_means_no_hash(env: Env) -> None:
    user = env.users.add_user("robot", "operator", None, None)
    assert not user.has_password
    assert user_row(env, "robot").password_hash is None


@pytest.mark.sqlite
def test_the_plaintext_token_and_password_are_nowhere_in_the_database(env: Env) -> None:
    env.users.add_user("alice", "supervisor", None, PASSWORD)
    issued = env.users.issue_token("alice", "laptop", service=False, by=owner(env.users, "alice"))
    assert issued.token.startswith("cw_")
    assert len(issued.token) == 3 + 43  # 256 random bits, base64url
    assert issued.token not in repr(issued)
    with env.db.session(write=False) as session:
        row = session.scalars(select(ApiTokenRow)).one()
        assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    env.db.checkpoint()
    files = [p for p in env.folder.iterdir() if p.is_file()]
    assert files
    for path in files:  # the database, and its WAL if any is left
        data = path.read_bytes()
        assert issued.token.encode() not in data, path
        assert issued.token[3:].encode() not in data, path
        assert PASSWORD.encode() not in data, path
    for entry in env.entries():
        text = json.dumps(entry.content())
        assert issued.token not in text
        assert PASSWORD not in text


def test_tokens_are_unique(env: Env) -> None:
    env.users.add_user("alice", "supervisor")
    tokens = {env.users.issue_token("alice", f"t{i}", by=owner(env.users, "alice")).token for i in range(20)}
    assert len(tokens) == 20


# --- sign-in ------------------------------------------------------------------------------


def test_a_good_login_gives_the_actor_and_is_audited(env: Env) -> None:
    env.users.add_user("olga", "operator", ["gate-2", "gate-1"], PASSWORD)
    actor = env.users.login("olga", PASSWORD)
    assert actor == Actor("olga", "operator", frozenset({"gate-1", "gate-2"}), service=False)
    record = env.last()
    assert (record.action, record.object) == ("user.login", "user:olga")
    assert record.params == {"method": "password", "role": "operator"}


@pytest.mark.parametrize(
    ("name", "password", "target"),
    [
        ("alice", "wrong password!", "user:alice"),  # wrong password
        ("nobody", PASSWORD, "user:nobody"),  # unknown name
        ("robot", PASSWORD, "user:robot"),  # a user without a password
        ("gone", PASSWORD, "user:gone"),  # a disabled user, right password
        ("not a name!", PASSWORD, "user:?"),  # not even a valid name: not written out
        ("alice", "x" * 5000, "user:alice"),  # longer than any password can be
    ],
)
def test_a_failed_login_says_nothing_about_the_name_and_is_audited(
    env: Env, name: str, password: str, target: str
) -> None:
    env.users.add_user("alice", "supervisor", None, PASSWORD)
    env.users.add_user("robot", "operator", None, None)
    env.users.add_user("gone", "operator", None, PASSWORD)
    env.users.deactivate("gone")
    with pytest.raises(PermissionDenied) as refused:
        env.users.login(name, password)
    assert str(refused.value) == LOGIN_FAILED
    record = env.last()
    assert (record.action, record.object) == ("user.login_failed", target)
    assert record.params == {"method": "password"}  # the same whether the name exists or not


def test_an_outdated_hash_is_replaced_at_login(env: Env) -> None:
    env.users.add_user("alice", "supervisor", None, PASSWORD)
    old = user_row(env, "alice").password_hash
    assert old is not None and "m=1024" in old
    env.store(hasher=None).login("alice", PASSWORD)
    new = user_row(env, "alice").password_hash
    assert new is not None and new != old and "m=65536" in new
    env.store(hasher=None).login("alice", PASSWORD)  # and it still signs in


def test_a_token_gives_its_user_scope_and_service_flag(env: Env) -> None:
    env.users.add_user("svc", "operator", ["lobby"], None)
    machine = env.users.issue_token("svc", "ingest box", service=True, by=ROOT)
    person = env.users.issue_token("svc", "laptop", service=False, by=owner(env.users, "svc"))
    assert env.users.actor_for_token(machine.token) == Actor("svc", "operator", frozenset({"lobby"}), True)
    assert env.users.actor_for_token(person.token + "\n") == Actor("svc", "operator", frozenset({"lobby"}))
    env.users.set_cameras("svc", None)
    env.users.set_role("svc", "supervisor")
    assert env.users.actor_for_token(person.token) == Actor("svc", "supervisor", None)


@pytest.mark.parametrize(
    ("case", "message", "reason"),
    [
        ("unknown", r"^unknown API token: not signed in$", "unknown"),
        ("revoked", r"^API token 1 \(laptop\) was revoked", "revoked"),
        ("disabled", r"^API token 1 \(laptop\) was revoked", "revoked"),  # disabling revokes
    ],
)
def test_a_bad_token_is_refused_and_audited(env: Env, case: str, message: str, reason: str) -> None:
    env.users.add_user("alice", "supervisor")
    token = env.users.issue_token("alice", "laptop", by=owner(env.users, "alice")).token
    if case == "unknown":
        token = "cw_" + "A" * 43
    elif case == "revoked":
        env.users.revoke_token(1)
    else:
        env.users.deactivate("alice")
    with pytest.raises(PermissionDenied, match=message):
        env.users.actor_for_token(token)
    record = env.last()
    assert record.action == "user.login_failed"
    assert record.params == {"method": "token", "reason": reason}
    assert token not in json.dumps(record.content())


@pytest.mark.parametrize("case", ["unknown", "revoked", "expired"])
def test_a_lookup_that_need_not_audit_refuses_the_same_and_records_nothing(env: Env, case: str) -> None:
    """For a public page asking whether a browser is signed in: anyone can send a made-up
    cookie there, so a refusal is not written to the audit log (nor takes its write lock)."""
    env.users.add_user("alice", "supervisor", None, PASSWORD)
    token = "cw_" + "A" * 43
    if case == "revoked":
        token = env.users.issue_token("alice", "laptop", by=owner(env.users, "alice")).token
        env.users.revoke_token(1)
    elif case == "expired":
        token = env.users.open_session("alice", PASSWORD, timedelta(seconds=-1)).token
    before = len(env.entries())
    with pytest.raises(PermissionDenied, match="not signed in"):
        env.users.actor_for_token(token, audit_failure=False)
    assert len(env.entries()) == before
    with pytest.raises(PermissionDenied, match="not signed in"):
        env.users.actor_for_token(token)  # a sign-in: audited as before
    assert env.last().action == "user.login_failed"


def test_a_disabled_users_token_is_refused_even_if_not_revoked(env: Env) -> None:
    env.users.add_user("alice", "supervisor")
    token = env.users.issue_token("alice", "laptop", by=owner(env.users, "alice")).token
    with env.db.session() as session:  # as if disabled by hand, tokens left alone
        session.scalars(select(UserRow)).one().active = False
    with pytest.raises(PermissionDenied, match="user 'alice' is disabled"):
        env.users.actor_for_token(token)
    assert env.last().params == {"method": "token", "reason": "user disabled"}


def test_a_good_token_writes_nothing(env: Env) -> None:
    env.users.add_user("alice", "supervisor")
    token = env.users.issue_token("alice", "laptop", by=owner(env.users, "alice")).token
    before = len(env.entries())
    env.users.actor_for_token(token)
    assert len(env.entries()) == before


# --- account changes ----------------------------------------------------------------------


def test_each_change_is_audited_without_secrets(env: Env) -> None:
    u = env.users
    u.add_user("alice", "operator", ["gate-1"], PASSWORD)
    u.set_role("alice", "supervisor")
    u.set_cameras("alice", ["gate-1", "gate-2"])
    u.set_password("alice", "another good password")
    issued = u.issue_token("alice", "laptop", service=True, by=ROOT)
    u.revoke_token(issued.id)
    u.issue_token("alice", "phone", by=owner(u, "alice"))
    u.deactivate("alice")
    got = [(e.action, e.object, e.params, e.result_count) for e in env.entries()]
    assert got == [
        ("user.add", "user:alice", {"role": "operator", "cameras": ["gate-1"], "password": True}, None),
        ("user.role", "user:alice", {"from": "operator", "to": "supervisor"}, None),
        ("user.cameras", "user:alice", {"from": ["gate-1"], "to": ["gate-1", "gate-2"]}, None),
        ("user.password", "user:alice", {"password": True}, 0),  # no session to end
        ("token.issue", "token:1", {"user": "alice", "label": "laptop", "service": True}, None),
        ("token.revoke", "token:1", {"user": "alice", "label": "laptop"}, None),
        ("token.issue", "token:2", {"user": "alice", "label": "phone", "service": False}, None),
        ("user.disable", "user:alice", {}, 1),
    ]
    text = json.dumps([e.content() for e in env.entries()])
    assert PASSWORD not in text and "another good password" not in text


def test_records_are_plain_and_list_counts_live_tokens(env: Env) -> None:
    env.users.add_user("bob", "operator", ["b", "a", "a"], None)
    alice = env.users.add_user("alice", "auditor", None, PASSWORD)
    assert (alice.name, alice.role, alice.cameras, alice.has_password, alice.active) == (
        "alice",
        "auditor",
        None,
        True,
        True,
    )
    assert alice.created_at == T0
    env.users.issue_token("bob", "one", by=owner(env.users, "bob"))
    env.users.issue_token("bob", "two", by=owner(env.users, "bob"))
    env.users.revoke_token(1)
    listed = env.users.list_users()
    assert [(u.name, u.cameras, u.tokens) for u in listed] == [("alice", None, 0), ("bob", ("a", "b"), 1)]
    tokens = env.users.list_tokens("bob")
    assert [(t.id, t.label, t.revoked_at is not None) for t in tokens] == [
        (1, "one", True),
        (2, "two", False),
    ]
    assert env.users.list_tokens("alice") == []


def test_a_password_change_takes_effect(env: Env) -> None:
    env.users.add_user("alice", "supervisor", None, PASSWORD)
    env.users.set_password("alice", "a brand new password")
    with pytest.raises(PermissionDenied):
        env.users.login("alice", PASSWORD)
    assert env.users.login("alice", "a brand new password").name == "alice"
    env.users.set_password("alice", None)
    with pytest.raises(PermissionDenied):
        env.users.login("alice", "a brand new password")


def test_disabling_stops_password_and_tokens(env: Env) -> None:
    env.users.add_user("alice", "supervisor", None, PASSWORD)
    token = env.users.issue_token("alice", "laptop", by=owner(env.users, "alice")).token
    user = env.users.deactivate("alice")
    assert (user.active, user.tokens) == (False, 0)
    with pytest.raises(PermissionDenied):
        env.users.login("alice", PASSWORD)
    with pytest.raises(PermissionDenied):
        env.users.actor_for_token(token)
    with pytest.raises(Conflict, match="already disabled"):
        env.users.deactivate("alice")
    with pytest.raises(Conflict, match="disabled"):
        env.users.issue_token("alice", "again", by=owner(env.users, "alice"))


def test_a_password_change_ends_the_users_console_sessions_but_not_api_tokens(env: Env) -> None:
    env.users.add_user("alice", "supervisor", None, PASSWORD)
    env.users.add_user("bob", "supervisor", None, PASSWORD)
    stolen = env.users.open_session("alice", PASSWORD, timedelta(hours=1)).token
    other = env.users.open_session("alice", PASSWORD, timedelta(hours=1)).token
    bobs = env.users.open_session("bob", PASSWORD, timedelta(hours=1)).token
    api = env.users.issue_token("alice", "ingest box", service=True, by=ROOT).token
    env.users.set_password("alice", "a brand new password")
    for token in (stolen, other):
        with pytest.raises(PermissionDenied, match="was revoked"):
            env.users.actor_for_token(token)
    assert env.users.actor_for_token(api).name == "alice"  # issued on purpose, not by the password
    assert env.users.actor_for_token(bobs).name == "bob"  # another user's session is left alone
    [record] = [e for e in env.entries() if e.action == "user.password"]
    assert (record.params, record.result_count) == ({"password": True}, 2)
    env.users.set_password("alice", None)  # nothing left to end: the record says so
    assert [e.result_count for e in env.entries() if e.action == "user.password"] == [2, 0]


def test_a_password_change_counts_only_the_sessions_it_ends(env: Env) -> None:
    """A session that had already expired is not ended again: it is neither counted in the
    record nor marked revoked (it stays expired, as it was)."""
    env.users.add_user("alice", "supervisor", None, PASSWORD)
    env.users.open_session("alice", PASSWORD, timedelta(seconds=-1))  # expired before the change
    live = env.users.open_session("alice", PASSWORD, timedelta(hours=1)).token
    env.users.set_password("alice", "a brand new password")
    assert env.last().action == "user.password" and env.last().result_count == 1
    with pytest.raises(PermissionDenied, match="was revoked"):
        env.users.actor_for_token(live)
    revoked = [t.revoked_at is not None for t in env.users.list_tokens("alice")]
    assert sorted(revoked) == [False, True]


def test_disabling_ends_console_sessions_too(env: Env) -> None:
    env.users.add_user("alice", "supervisor", None, PASSWORD)
    session = env.users.open_session("alice", PASSWORD, timedelta(hours=1)).token
    env.users.issue_token("alice", "laptop", by=owner(env.users, "alice"))
    env.users.deactivate("alice")
    with pytest.raises(PermissionDenied, match="was revoked"):
        env.users.actor_for_token(session)
    assert env.last().action == "user.login_failed"
    [record] = [e for e in env.entries() if e.action == "user.disable"]
    assert record.result_count == 2  # the session and the API token


# --- refusals -----------------------------------------------------------------------------


def test_a_duplicate_name_is_a_conflict_and_leaves_no_record(env: Env) -> None:
    env.users.add_user("alice", "supervisor")
    before = len(env.entries())
    with pytest.raises(Conflict, match="user 'alice' already exists"):
        env.users.add_user("alice", "operator")
    assert len(env.entries()) == before
    assert [u.role for u in env.users.list_users()] == ["supervisor"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": ""}, "user name '' is not valid"),
        ({"name": "with space"}, "user name 'with space' is not valid"),
        ({"name": "x" * 101}, "is not valid: 1 to 100 letters"),
        ({"name": "ann/../x"}, "is not valid"),
        ({"role": "local"}, "role 'local' is not one of admin, supervisor, operator, investigator, auditor"),
        ({"role": "Admin"}, "role 'Admin' is not one of"),
        ({"password": "short"}, "the password is too short: at least 12 characters"),
        ({"password": " " * 12}, "the password must not be blank"),
        ({"password": "p" * 1025}, "the password is too long"),
        ({"cameras": []}, "give at least one camera id"),
        ({"cameras": ["gate 1"]}, "camera id\\(s\\) 'gate 1' not valid"),
    ],
)
def test_bad_input_is_refused_clearly(env: Env, kwargs: dict[str, Any], error: str) -> None:
    args: dict[str, Any] = {"name": "alice", "role": "operator", "cameras": None, "password": None}
    args.update(kwargs)
    with pytest.raises(InvalidInput, match=error):
        env.users.add_user(**args)
    assert env.users.list_users() == []
    assert env.entries() == []


@pytest.mark.parametrize(
    "call",
    [
        lambda u: u.set_role("nobody", "admin"),
        lambda u: u.set_cameras("nobody", None),
        lambda u: u.set_password("nobody", PASSWORD),
        lambda u: u.deactivate("nobody"),
        lambda u: u.issue_token("nobody", "x", by=owner(u, "nobody")),
        lambda u: u.get_user("nobody"),
        lambda u: u.list_tokens("nobody"),
    ],
)
def test_an_unknown_user_is_not_found(env: Env, call: Any) -> None:
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        call(env.users)


def test_token_refusals(env: Env) -> None:
    env.users.add_user("alice", "supervisor")
    with pytest.raises(InvalidInput, match="needs a label"):
        env.users.issue_token("alice", "  ", by=owner(env.users, "alice"))
    with pytest.raises(NotFound, match="no API token with id 7"):
        env.users.revoke_token(7)
    issued = env.users.issue_token("alice", "laptop", by=owner(env.users, "alice"))
    env.users.revoke_token(issued.id)
    with pytest.raises(Conflict, match="already revoked"):
        env.users.revoke_token(issued.id)
    with pytest.raises(InvalidInput, match="role"):
        env.users.set_role("alice", "root")
