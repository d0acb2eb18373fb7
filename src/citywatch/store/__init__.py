"""The embedded MetaStore (SQLite in WAL mode, SQLAlchemy 2, Alembic) and the BlobStore.

Other stages call `MetaStore`; they get records from `citywatch.domain.records`, never ORM rows.
"""

from citywatch.store.blobs import BlobRef, BlobStore
from citywatch.store.db import Database, open_database
from citywatch.store.facade import MetaStore, open_store

__all__ = ["BlobRef", "BlobStore", "Database", "MetaStore", "open_database", "open_store"]
