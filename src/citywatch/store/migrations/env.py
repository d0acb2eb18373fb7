"""Alembic environment: runs migrations on the connection `open_database` hands over.

`open_database` passes an open connection (with citywatch's SQLite pragmas, inside one
transaction) in `config.attributes["connection"]`. Offline mode (`--sql`) renders SQL for
the URL in `sqlalchemy.url`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from citywatch.store.schema import metadata

config = context.config
target_metadata = metadata


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    handed_over = config.attributes.get("connection")
    if not isinstance(handed_over, Connection):
        raise RuntimeError(
            "citywatch migrations run through citywatch.store.db.open_database(), "
            "which passes the connection in config.attributes['connection']"
        )
    run_online(handed_over)
