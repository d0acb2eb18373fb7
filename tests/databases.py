"""Which metadata database the tests run on: SQLite in a temporary folder (the default), or a
fresh PostgreSQL database per test (`CITYWATCH_TEST_DATABASE=postgresql`, on the server at
`CITYWATCH_TEST_POSTGRES`, default the local one), created before the test and dropped after."""

from __future__ import annotations

import atexit
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

BACKEND = os.environ.get("CITYWATCH_TEST_DATABASE", "sqlite")
SERVER = os.environ.get("CITYWATCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
"""The server's URL without a database (SQLAlchemy's form)."""


def on_postgresql() -> bool:
    if BACKEND not in {"sqlite", "postgresql"}:
        raise ValueError(f"CITYWATCH_TEST_DATABASE={BACKEND!r}: sqlite or postgresql")
    return BACKEND == "postgresql"


def _libpq(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://…`) as psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_libpq(SERVER) + "/postgres", autocommit=True)


_TEMPLATE: list[str] = []
"""The migrated database this process copies for each test (made on first use)."""


def _template() -> str:
    """A database migrated to the head, made once per process: each test's database is a copy
    of it (`CREATE DATABASE … TEMPLATE`), so no test waits for the migrations."""
    if not _TEMPLATE:
        from citywatch.store.db import open_database  # noqa: PLC0415  (only on PostgreSQL)

        name = f"citywatch_template_{uuid.uuid4().hex[:12]}"
        with _admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        open_database(f"{SERVER}/{name}").close()
        atexit.register(_drop, name)
        _TEMPLATE.append(name)
    return _TEMPLATE[0]


def _drop(name: str) -> None:
    with _admin() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def fresh_postgresql() -> Iterator[str]:
    """A new database on the test server, migrated, its SQLAlchemy URL; dropped afterwards (its
    connections ended first)."""
    template = _template()
    name = f"citywatch_test_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    try:
        yield f"{SERVER}/{name}"
    finally:
        _drop(name)


@contextmanager
def own_database() -> Iterator[None]:
    """A database of its own for what runs inside (one example of a state machine, one round
    of a loop over data folders): on PostgreSQL a fresh one, named by CITYWATCH_DATABASE_URL
    while inside and dropped after; nothing on SQLite, where each data folder holds its own."""
    if not on_postgresql():
        yield
        return
    before = os.environ.get("CITYWATCH_DATABASE_URL")
    with fresh_postgresql() as url:
        os.environ["CITYWATCH_DATABASE_URL"] = url
        try:
            yield
        finally:
            if before is None:
                del os.environ["CITYWATCH_DATABASE_URL"]
            else:
                os.environ["CITYWATCH_DATABASE_URL"] = before


def main() -> int:
    """Exit 0 when the PostgreSQL test server answers (the Makefile's check before its
    PostgreSQL leg), 1 with why when it does not."""
    try:
        with _admin() as admin:
            admin.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"no PostgreSQL test server at {SERVER}: {exc}".strip())
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def require_postgresql() -> None:
    """For a test that runs processes of a city, which need PostgreSQL whatever the leg: skip
    it where no test server answers, except under CI (CI=true), where that is a failure."""
    import pytest  # noqa: PLC0415  (this module also runs as a script, without pytest)

    try:
        with _admin() as admin:
            admin.execute("SELECT 1")
    except psycopg.Error as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the PostgreSQL test server at {SERVER}: {exc}")
        pytest.skip(f"no PostgreSQL test server at {SERVER} (set CITYWATCH_TEST_POSTGRES)")


def stray_settings() -> list[str]:
    """The CITYWATCH_ variables of this process that a test clears before it runs a command on
    settings of its own: every one but the test's database (`CITYWATCH_DATABASE_URL`, set per
    test on PostgreSQL)."""
    return [k for k in os.environ if k.startswith("CITYWATCH_") and k != "CITYWATCH_DATABASE_URL"]


class _PostgresSql:
    """A psycopg connection that takes SQLite's `?` placeholders, for the tests' own queries."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(_libpq(url), autocommit=True)

    def execute(self, query: str, params: tuple[object, ...] = ()) -> psycopg.Cursor[tuple[Any, ...]]:
        return self._conn.execute(query.replace("?", "%s"), params)  # type: ignore[arg-type]

    def __enter__(self) -> _PostgresSql:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Each statement committed already (autocommit), as `with sqlite3.connect(…)` commits."""

    def close(self) -> None:
        self._conn.close()


def metadata_sql(data_dir: Path) -> Any:
    """A plain connection to the metadata database a command run on `data_dir` uses, for a test
    to read (or tamper with) its rows: the SQLite file (which must exist), or the test's
    PostgreSQL database. Queries take `?` placeholders on both."""
    url = os.environ.get("CITYWATCH_DATABASE_URL")
    if url:
        return _PostgresSql(url)
    return sqlite3.connect(f"file:{data_dir / 'citywatch.db'}?mode=rw", uri=True)


def integrity_ok(db: Any) -> bool:
    """SQLite's own check of its file after a kill; PostgreSQL's write-ahead log is the
    server's business, so there a kill leaves nothing to check here."""
    if isinstance(db, sqlite3.Connection):
        return bool(db.execute("pragma integrity_check").fetchone() == ("ok",))
    return True


DATABASE_ERRORS = (sqlite3.Error, psycopg.Error)
"""What reading a database that is still being created may raise."""
