"""Fixtures for the store: a migrated database and a blob store in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.store.blobs import BlobStore
from citywatch.store.db import open_database
from citywatch.store.facade import MetaStore

from .helpers import db_url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetaStore]:
    meta = MetaStore(open_database(db_url(tmp_path / "db" / "citywatch.db")), BlobStore(tmp_path / "blobs"))
    yield meta
    meta.close()
