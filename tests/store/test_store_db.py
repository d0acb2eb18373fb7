"""Opening the database: pragmas on every connection, clear errors, sessions that commit or roll back."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from citywatch.domain.errors import CitywatchError, Conflict, InvalidInput, Unavailable
from citywatch.store import db as db_module
from citywatch.store.db import open_database, translate_error
from citywatch.store.watchlist_tables import Watchlist
from tests.store.helpers import db_url

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        ("journal_mode", "wal"),
        ("foreign_keys", 1),
        ("secure_delete", 1),
        ("synchronous", 2),  # FULL
        ("busy_timeout", 10_000),
    ],
)
def test_every_connection_has_the_pragmas(tmp_path: Path, pragma: str, expected: object) -> None:
    db = open_database(db_url(tmp_path / "a.db"))
    try:
        # Two connections at once: the second is a fresh one from the pool, not the migration's.
        with db.engine.connect() as first, db.engine.connect() as second:
            for conn in (first, second):
                assert conn.exec_driver_sql(f"PRAGMA {pragma}").scalar() == expected
    finally:
        db.close()


@pytest.mark.sqlite
def test_the_parent_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "citywatch.db"
    open_database(db_url(path)).close()
    assert path.is_file()


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (
            b"this is a text file, not a database\n" * 20,
            InvalidInput,
            "not a citywatch database (file is not a database)",
        ),
        (b"x" * 4096, InvalidInput, "not a citywatch database"),
    ],
)
def test_a_file_that_is_not_a_database_is_refused_clearly(
    tmp_path: Path, content: bytes, error: type[CitywatchError], message: str
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(error) as info:
        open_database(db_url(path))
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert path.read_bytes() == content  # untouched


@pytest.mark.sqlite
def test_a_folder_in_place_of_the_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    path.mkdir()
    with pytest.raises(Unavailable, match="cannot open the database file"):
        open_database(db_url(path))


def test_a_bad_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="not a database URL"):
        open_database("not a url at all")


def test_session_commits_on_success_and_rolls_back_on_error(tmp_path: Path) -> None:
    db = open_database(db_url(tmp_path / "a.db"))
    try:
        with db.session() as session:
            session.add(Watchlist(name="kept", category="wanted", active=True, created_at=NOW))
        with pytest.raises(RuntimeError), db.session() as session:
            session.add(Watchlist(name="dropped", category="wanted", active=True, created_at=NOW))
            session.flush()
            raise RuntimeError("boom")
        with db.session(write=False) as session:
            assert session.scalars(select(Watchlist.name)).all() == ["kept"]
    finally:
        db.close()


def test_a_constraint_violation_is_a_conflict(tmp_path: Path) -> None:
    db = open_database(db_url(tmp_path / "a.db"))
    try:
        with pytest.raises(Conflict, match="clashes with stored data"), db.session() as session:
            session.add(Watchlist(name="x", category="no such category", active=True, created_at=NOW))
    finally:
        db.close()


def test_a_naive_datetime_is_never_stored(tmp_path: Path) -> None:
    db = open_database(db_url(tmp_path / "a.db"))
    try:
        with pytest.raises(Exception, match="naive datetime"), db.session() as session:
            session.add(Watchlist(name="x", category="wanted", active=True, created_at=datetime(2026, 1, 1)))
        with db.session(write=False) as session:
            assert session.scalar(select(func.count(Watchlist.id))) == 0
    finally:
        db.close()


def test_datetimes_come_back_aware_in_utc(tmp_path: Path) -> None:
    db = open_database(db_url(tmp_path / "a.db"))
    local = datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    try:
        with db.session() as session:
            session.add(Watchlist(name="x", category="wanted", active=True, created_at=local))
        with db.session(write=False) as session:
            stored = session.scalars(select(Watchlist.created_at)).one()
    finally:
        db.close()
    assert stored == local
    assert stored.tzinfo is UTC
    assert stored.hour == 12


@pytest.mark.sqlite
def test_a_locked_database_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        db_module,
        "SQLITE_PRAGMAS",
        tuple(
            "PRAGMA busy_timeout = 200" if p.startswith("PRAGMA busy_timeout") else p
            for p in db_module.SQLITE_PRAGMAS
        ),
    )
    path = tmp_path / "a.db"
    db = open_database(db_url(path))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(Unavailable, match="database is locked"), db.session() as session:
            session.add(Watchlist(name="x", category="wanted", active=True, created_at=NOW))
    finally:
        other.execute("ROLLBACK")
        other.close()
        db.close()


def test_concurrent_writers_wait_for_each_other_instead_of_failing(tmp_path: Path) -> None:
    db = open_database(db_url(tmp_path / "a.db"))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                with db.session() as session:
                    # Read first, then write: with a deferred BEGIN this upgrade is what fails.
                    session.scalar(select(func.count(Watchlist.id)))
                    session.add(Watchlist(name=f"w{n}-{i}", category="wanted", active=True, created_at=NOW))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with db.session(write=False) as session:
            assert session.scalar(select(func.count(Watchlist.id))) == 100
    finally:
        db.close()


@pytest.mark.parametrize(
    ("message", "error", "fragment"),
    [
        ("database is locked", Unavailable, "locked by another process"),
        ("database or disk is full", Unavailable, "disk full"),
        ("file is not a database", InvalidInput, "not a citywatch database (file is not a database)"),
        ("database disk image is malformed", InvalidInput, "damaged"),
        ("unable to open database file", Unavailable, "cannot open the database file"),
        ("attempt to write a readonly database", Unavailable, "read-only"),
        ("disk I/O error", Unavailable, "database error (disk I/O error)"),
    ],
)
def test_sqlite_errors_are_translated(message: str, error: type[CitywatchError], fragment: str) -> None:
    exc = OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))
    translated = translate_error(exc, "/data/citywatch.db")
    assert isinstance(translated, error)
    assert str(translated).startswith("/data/citywatch.db: ")
    assert fragment in str(translated)


def test_programming_errors_are_not_translated() -> None:
    exc = ProgrammingError("SELECT ?", {}, sqlite3.ProgrammingError("Incorrect number of bindings supplied"))
    assert translate_error(exc, "/data/citywatch.db") is None
