"""The stored audit log: appends commit with their action, checkpoints catch truncation."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select

from citywatch.audit.keys import load_or_create, load_public, public_pem
from citywatch.audit.log import CHECKPOINT_EVERY, AuditLog
from citywatch.store.audit_tables import AuditCheckpoint, AuditRecord
from citywatch.store.db import Database, open_database
from tests.store.helpers import db_url


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(db_url(tmp_path / "a.db"))
    yield database
    database.close()


def append(log: AuditLog, db: Database, n: int) -> None:
    for i in range(n):
        with db.session() as s:
            log.append(
                s,
                actor="ann@local",
                role="admin",
                action="person.update",
                object=f"person:{i}",
                params={"fields": ["notes"]},
            )


def test_records_chain_and_verify(db: Database) -> None:
    log = AuditLog(db, Ed25519PrivateKey.generate())
    append(log, db, 5)
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert log.verify().ok


def test_a_rolled_back_action_leaves_no_record(db: Database) -> None:
    log = AuditLog(db, Ed25519PrivateKey.generate())
    with pytest.raises(RuntimeError), db.session() as s:
        log.append(s, actor="a", role="admin", action="x", object="y")
        raise RuntimeError("the action failed")
    assert log.entries() == []


def test_checkpoints_are_written_and_catch_truncation(db: Database) -> None:
    log = AuditLog(db, Ed25519PrivateKey.generate())
    append(log, db, CHECKPOINT_EVERY + 3)
    with db.session(write=False) as s:
        assert s.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1
    assert log.checkpoint() is not None
    with db.session() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq > CHECKPOINT_EVERY + 1))
    verdict = log.verify()
    assert not verdict.ok and verdict.first_bad_seq == CHECKPOINT_EVERY + 2
    assert "gone" in verdict.reason


def test_the_key_is_kept_private_and_its_public_half_exports(tmp_path: Path, db: Database) -> None:
    key = load_or_create(tmp_path)
    assert (tmp_path / "audit-ed25519.pem").stat().st_mode & 0o077 == 0
    assert load_or_create(tmp_path).public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    pem = tmp_path / "public.pem"
    pem.write_text(public_pem(key.public_key()))
    log = AuditLog(db, key)
    append(log, db, 2)
    log.checkpoint()
    assert log.verify(load_public(pem)).ok
    assert not log.verify(Ed25519PrivateKey.generate().public_key()).ok
