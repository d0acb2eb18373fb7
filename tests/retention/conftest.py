"""What the retention tests share: a migrated metadata database of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.store.db import Database, open_database
from tests.store.helpers import db_url


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(db_url(tmp_path / "db" / "citywatch.db"))
    yield database
    database.close()
