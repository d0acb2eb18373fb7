"""The audit chain stays one verifiable chain when many writers append at once: on SQLite the
write transaction queues them, on PostgreSQL (CITYWATCH_TEST_DATABASE=postgresql) an
advisory lock does (`store.db.serialise`), and without it they fork the chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from citywatch.audit import log as audit_log
from citywatch.audit.log import AuditLog
from citywatch.domain.errors import CitywatchError
from citywatch.store.audit_tables import AuditRecord
from citywatch.store.db import Database, open_database
from tests.databases import on_postgresql
from tests.store.helpers import db_url

WRITERS = 6
EACH = 15


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(db_url(tmp_path / "a.db"))
    yield database
    database.close()


def _write_at_once(log: AuditLog, db: Database) -> list[BaseException]:
    """WRITERS threads, each appending EACH records in transactions of their own, started
    together; what failed."""
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        start.wait()
        for i in range(EACH):
            try:
                with db.session() as s:
                    log.append(
                        s, actor=f"w{n}@local", role="admin", action="person.update", object=f"person:{i}"
                    )
            except CitywatchError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def test_concurrent_writers_make_one_chain(db: Database) -> None:
    log = AuditLog(db, Ed25519PrivateKey.generate())
    assert _write_at_once(log, db) == []
    verdict = log.verify()
    assert verdict.ok, verdict.reason
    assert verdict.records == WRITERS * EACH
    with db.session(write=False) as s:
        assert list(s.scalars(select(AuditRecord.seq).order_by(AuditRecord.seq))) == list(
            range(1, WRITERS * EACH + 1)
        )


@pytest.mark.skipif(not on_postgresql(), reason="SQLite's write lock queues writers by itself")
def test_without_the_lock_postgresql_writers_clash(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_log, "serialise", lambda _session, _key: None)
    log = AuditLog(db, Ed25519PrivateKey.generate())
    failures = _write_at_once(log, db)
    # two writers read the same head: one of them is refused (the sequence number is taken)
    assert failures, "the writers never clashed: the test did not test the lock"
