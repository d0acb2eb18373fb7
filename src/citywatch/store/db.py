"""Opening the metadata database: engine, SQLite pragmas, migrations, error translation.

Every SQLite connection runs in WAL mode with `synchronous=FULL` (a committed sighting
survives a power cut), foreign keys on, and `secure_delete` (deleted rows are zeroed, not
left in free pages). SQLAlchemy emits BEGIN itself: write sessions take the write lock at
once (`BEGIN IMMEDIATE`, so `busy_timeout` applies), read sessions read one snapshot.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from citywatch.domain.errors import CitywatchError, Conflict, InvalidInput, Unavailable

# Every table module, so that each table is mapped before a session flushes (foreign keys
# name the tables they refer to, which must be on the metadata by then).
from citywatch.store import schema  # noqa: F401

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA secure_delete = ON",
)
PERSONAL_TABLES = frozenset(
    {
        "sightings",
        "alerts",
        "alert_notes",
        "alert_confirmations",
        "outbox",
        "non_matches",
        "templates",
        "reference_images",
        "persons",
        "recordings",
        "exports",
        "requests",
        "audit_records",
    }
)
"""The tables whose deleted rows must leave no bytes behind (biometric and personal data,
and the audit records that name people): what `checkpoint` rewrites on PostgreSQL."""
SIGHTING_TABLES = frozenset(
    {"sightings", "alerts", "alert_notes", "alert_confirmations", "outbox", "non_matches"}
)
"""What a sighting's deletion reaches (its alerts and what hangs on them cascade)."""
WATCHLIST_TABLES = frozenset({"persons", "reference_images", "templates", "non_matches"})
"""What a person's or a reference image's deletion reaches."""
AUDIT_TABLES = frozenset({"audit_records"})
ERASE_LOCK_TIMEOUT_MS = 5_000
"""How long a rewrite waits for its table's lock before leaving it for the next checkpoint."""
_KEPT_DEAD = re.compile(r"\b[1-9]\d* dead row versions cannot be removed yet")
_LOCK_NOT_AVAILABLE = "55P03"
_BEGIN_OPTION = "citywatch_begin"
_BEGIN = {"deferred": "BEGIN DEFERRED", "immediate": "BEGIN IMMEDIATE"}


class Database:
    """An open, migrated metadata database."""

    def __init__(self, engine: Engine, label: str) -> None:
        self._engine = engine
        self._label = label
        self._unerased: set[str] = set()
        self._writer = sessionmaker(
            bind=engine.execution_options(**{_BEGIN_OPTION: "immediate"}), expire_on_commit=False
        )
        self._reader = sessionmaker(bind=engine, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def label(self) -> str:
        """The database file (or the URL without its password), for messages."""
        return self._label

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back when it raises.

        `write=False` reads one consistent snapshot without taking the write lock.
        Database errors leave as `Conflict`, `Unavailable` or `InvalidInput`.
        """
        session = (self._writer if write else self._reader)()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            _rollback_quietly(session)
            translated = translate_error(exc, self._label)
            if translated is None:
                raise
            raise translated from exc
        except OverflowError:  # the driver refuses a number beyond 64 bits (an id from a URL)
            _rollback_quietly(session)
            raise InvalidInput("a number is beyond the 64-bit integers the database stores") from None
        except BaseException:
            _rollback_quietly(session)
            raise
        finally:
            session.close()

    def checkpoint(self, *, erase: Collection[str] = PERSONAL_TABLES) -> bool:
        """Leave no copy of deleted rows behind, after a deletion of personal data commits.

        SQLite: copy the WAL into the database file and truncate it, so that rows deleted
        with `secure_delete` (zeroed in their pages) leave no old copy in the WAL. True when
        complete; False when readers held part of it back (the next checkpoint finishes it).

        PostgreSQL has no `secure_delete`: a `VACUUM` frees a deleted row's space but leaves
        its bytes in the page and in the index pages until overwritten. The tables in `erase`
        (those the deletion touched) are rewritten (`VACUUM FULL`: the table, its TOAST and
        its indexes into new files, the old files unlinked; writers wait meanwhile), then a
        `CHECKPOINT` lets the WAL segments that still hold the rows be recycled."""
        if self._engine.dialect.name == "postgresql":
            return self._rewrite(erase)
        if self._engine.dialect.name != "sqlite":
            return True
        try:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                busy, _frames, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                cursor.close()
            finally:
                raw.close()
        except (SQLAlchemyError, sqlite3.Error) as exc:
            translated = translate_error(exc, self._label)
            if translated is None:
                raise
            raise translated from exc
        if busy:
            log.warning("%s: WAL checkpoint incomplete, readers are active", self._label)
        return not busy

    @property
    def unerased(self) -> frozenset[str]:
        """Tables whose deleted rows a rewrite could not yet remove (PostgreSQL): the next
        `checkpoint` rewrites them again."""
        return frozenset(self._unerased)

    def _rewrite(self, tables: Collection[str]) -> bool:
        """`VACUUM (FULL)` each table, waiting at most ERASE_LOCK_TIMEOUT for its lock (never
        stalling every reader behind a long transaction). A table whose lock was not granted,
        or whose deleted rows an older snapshot may still see (the rewrite copies those), is
        remembered for the next checkpoint; False then."""
        unknown = set(tables) - PERSONAL_TABLES
        if unknown:
            raise InvalidInput(f"not tables of personal data: {sorted(unknown)}")
        wanted = sorted(set(tables) | self._unerased)
        left: set[str] = set()
        try:
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                notes: list[str] = []
                conn.connection.driver_connection.add_notice_handler(  # type: ignore[union-attr]
                    lambda diag: notes.append(diag.message_detail or "")
                )
                conn.execute(text(f"SET lock_timeout = {ERASE_LOCK_TIMEOUT_MS}"))
                for table in wanted:  # names from the fixed set above
                    notes.clear()
                    if not _vacuum_full(conn, table) or any(_KEPT_DEAD.search(n) for n in notes):
                        left.add(table)
                conn.execute(text("CHECKPOINT"))
        except SQLAlchemyError as exc:
            translated = translate_error(exc, self._label)
            if translated is None:
                raise
            raise translated from exc
        self._unerased = left
        if left:
            log.warning(
                "%s: deleted rows of %s not yet erased; the next checkpoint retries",
                self._label,
                sorted(left),
            )
        return not left

    def schema_revision(self) -> str | None:
        """The schema's migration revision, read from the database now (a cheap query that
        also shows the database answers); None when it has none."""
        with self.session(write=False) as session:
            return session.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def close(self) -> None:
        self._engine.dispose()


def serialise(session: Session, key: int) -> None:
    """Queue the writers of something built one after another (the audit chain: each record
    names the last one's hash) until `session`'s transaction ends. On SQLite every write
    transaction already holds the database's one write lock (`BEGIN IMMEDIATE`); on
    PostgreSQL, where writers run side by side, a transaction-scoped advisory lock on `key`,
    taken before the last one is read and released at commit or rollback."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


@functools.cache
def head_revision() -> str:
    """The newest migration this citywatch ships: what `open_database` migrates to."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:  # a package without its migrations is broken, not merely unready
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return head


POSTGRESQL_LINK = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}
"""libpq settings for a link that may die silently (a worker cut off from the database's
host): a connection is refused within 5 s, and one whose peer stopped answering is given up
within about 15 s (keepalives when idle, `tcp_user_timeout` with data unacknowledged), so a
reader fails with `Unavailable` instead of waiting on the operating system's default of
fifteen minutes and more."""


def open_database(url: str) -> Database:
    """Open (creating if needed) the database at `url` and migrate it to the newest schema."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(f"{url!r}: not a database URL ({exc})") from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    label = _label(parsed)
    if is_sqlite:
        _make_parent_folder(parsed, label)
    # A pooled connection the server ended (a restart, pg_terminate_backend, a failover) is
    # found at checkout and replaced, instead of failing the next write.
    options: dict[str, Any] = {} if is_sqlite else {"pool_pre_ping": True, "connect_args": POSTGRESQL_LINK}
    if is_sqlite and label == ":memory:":
        # One shared connection, or every connection would see its own empty database.
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, ImportError) as exc:
        raise InvalidInput(f"{label}: cannot use this database URL ({exc})") from None
    if is_sqlite:
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    try:
        _upgrade(engine, label)
    except BaseException:
        engine.dispose()
        raise
    log.debug("database %s ready", label)
    return Database(engine, label)


# (fragment of the driver's message, error class, what to tell the user); first match wins.
_KNOWN_ERRORS: tuple[tuple[str, type[CitywatchError], str], ...] = (
    ("not a database", InvalidInput, "not a citywatch database"),
    ("malformed", InvalidInput, "the database file is damaged"),
    ("locked", Unavailable, f"database is locked by another process or thread (waited {BUSY_TIMEOUT_MS} ms)"),
    ("busy", Unavailable, f"database is locked by another process or thread (waited {BUSY_TIMEOUT_MS} ms)"),
    ("disk is full", Unavailable, "disk full while writing the database"),
    ("unable to open", Unavailable, "cannot open the database file"),
    ("readonly", Unavailable, "the database is read-only"),
)


def translate_error(exc: BaseException, label: str) -> CitywatchError | None:
    """The citywatch error for a database error; None for programming errors, which stay as raised."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    reason = str(orig).strip() or type(orig).__name__
    if isinstance(exc, IntegrityError) or isinstance(orig, sqlite3.IntegrityError):
        return Conflict(f"{label}: the change clashes with stored data ({reason})")
    text = reason.lower()
    for fragment, error, meaning in _KNOWN_ERRORS:
        if fragment in text:
            return error(f"{label}: {meaning} ({reason})")
    if isinstance(exc, OperationalError) or isinstance(orig, sqlite3.OperationalError):
        return Unavailable(f"{label}: database error ({reason})")
    return None


def _label(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return url.database if url.database not in (None, "") else ":memory:"
    return url.render_as_string(hide_password=True)


def _make_parent_folder(url: URL, label: str) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Unavailable(f"{label}: cannot create the database folder ({exc.strerror or exc})") from None


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (see _on_sqlite_begin); pysqlite's legacy mode would
    # start transactions only before DML and leave SELECTs outside them.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            row = cursor.execute(pragma).fetchone()
            if pragma.startswith("PRAGMA journal_mode") and row is not None and str(row[0]).lower() != "wal":
                log.warning(
                    "SQLite journal mode is %s, not wal (in-memory or unsupported filesystem)", row[0]
                )
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "deferred")
    conn.exec_driver_sql(_BEGIN[mode])


def _upgrade(engine: Engine, label: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as conn:
            conn.execution_options(**{_BEGIN_OPTION: "immediate"})
            with conn.begin():
                _refuse_foreign_schema(conn, label)
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    except CommandError as exc:
        raise InvalidInput(
            f"{label}: cannot migrate the database schema ({exc}); was it written by a newer citywatch?"
        ) from None
    except (SQLAlchemyError, sqlite3.Error) as exc:
        translated = translate_error(exc, label)
        if translated is None:
            raise
        raise translated from None


def _refuse_foreign_schema(conn: Connection, label: str) -> None:
    """A database with tables but no Alembic version belongs to something else: leave it alone."""
    tables = set(inspect(conn).get_table_names())
    if tables and "alembic_version" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise InvalidInput(f"{label}: not a citywatch database (it holds other tables: {shown})")


def _rollback_quietly(session: Session) -> None:
    try:
        session.rollback()
    except SQLAlchemyError:
        log.warning("rollback failed; the connection is discarded", exc_info=True)


def _vacuum_full(conn: Connection, table: str) -> bool:
    """Rewrite `table`; False when its lock was not granted in time."""
    try:
        conn.execute(text(f'VACUUM (FULL, VERBOSE) "{table}"'))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            return False
        raise
    return True
