"""The metadata schema as SQLAlchemy 2 typed declarative models; migrations/ builds the same by hand.

Each area's tables live in a module of their own (`*_tables`), all on the one MetaData of
`base.Base`: this module imports every one of them, so that `metadata` holds every table.
"""

from __future__ import annotations

from citywatch.store import (
    audit_tables,
    camera_tables,
    governance_tables,
    retention_tables,
    sighting_tables,
    watchlist_tables,
)
from citywatch.store.base import Base

TABLE_MODULES = (
    audit_tables,
    camera_tables,
    governance_tables,
    retention_tables,
    sighting_tables,
    watchlist_tables,
)
"""Every module that declares tables: importing them registers their tables on `metadata`."""

metadata = Base.metadata
"""The whole schema, every table of TABLE_MODULES: what Alembic and the tests compare with the migrations."""
