"""The audit log's page filters: exact or prefix matches on actor, action and object, a time
range, newest first; each column filter is answered from its index, not a walk of the log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from citywatch.audit.log import AuditLog
from citywatch.store.db import Database, open_database

T0 = datetime(2026, 3, 1, tzinfo=UTC)
RECORDS = [
    # actor, action, object, minutes after T0
    ("sam", "hold.place", "hold:1", 0),
    ("ian", "request.file", "request:1", 10),
    ("sam", "request.review", "request:1", 20),
    ("sue", "request.approve", "request:1", 30),
    ("sue", "export.verify", "export:1", 40),
    ("sam", "request.file", "request:10", 50),
    ("ian", "requests.list", "", 60),
]


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    db = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    audit = AuditLog(db, Ed25519PrivateKey.generate())
    with db.session() as s:
        for actor, action, obj, minutes in RECORDS:
            audit.append(
                s, actor=actor, role="x", action=action, object=obj, at=T0 + timedelta(minutes=minutes)
            )
    yield audit
    db.close()


@pytest.mark.parametrize(
    ("filters", "seqs"),
    [
        ({}, [7, 6, 5, 4, 3, 2, 1]),
        ({"actor": "sam"}, [6, 3, 1]),
        ({"actor": "s*"}, [6, 5, 4, 3, 1]),
        ({"action": "request.*"}, [6, 4, 3, 2]),  # not requests.list
        ({"action": "request.file"}, [6, 2]),
        ({"object": "request:1"}, [4, 3, 2]),  # not request:10
        ({"object": "request:1*"}, [6, 4, 3, 2]),
        ({"object": "*"}, [7, 6, 5, 4, 3, 2, 1]),  # a bare star filters nothing
        ({"since": T0 + timedelta(minutes=20)}, [7, 6, 5, 4, 3]),
        ({"until": T0 + timedelta(minutes=20)}, [2, 1]),
        ({"since": T0 + timedelta(minutes=10), "until": T0 + timedelta(minutes=40), "actor": "sue"}, [4]),
        (
            {"since": (T0 + timedelta(minutes=50)).astimezone(timezone(timedelta(hours=2)))},
            [7, 6],
        ),  # any offset
        ({"actor": "nobody"}, []),
    ],
)
def test_filters_select_the_matching_records_newest_first(
    log: AuditLog, filters: dict[str, Any], seqs: list[int]
) -> None:
    assert [e.seq for e in log.page(limit=50, **filters)] == seqs


def test_pages_follow_on_below_before(log: AuditLog) -> None:
    first = log.page(limit=2, action="request.*")
    assert [e.seq for e in first] == [6, 4]
    assert [e.seq for e in log.page(limit=2, action="request.*", before=first[-1].seq)] == [3, 2]


@pytest.mark.parametrize(
    ("where", "index"),
    [
        ("actor = 'sam'", "ix_audit_records_actor"),
        ("action >= 'request.' AND action < 'request/'", "ix_audit_records_action"),
        ("object = 'request:1'", "ix_audit_records_object"),
    ],
)
def test_each_column_filter_reads_its_index(log: AuditLog, where: str, index: str) -> None:
    db: Database = log._db
    with db.session(write=False) as s:
        plan = " ".join(
            str(row[-1])
            for row in s.execute(
                text(
                    f"EXPLAIN QUERY PLAN SELECT * FROM audit_records WHERE {where} ORDER BY seq DESC LIMIT 50"
                )
            )
        )
    assert index in plan, plan
