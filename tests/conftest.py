"""Shared fixtures: where the shared test data lives, and settings built in tmp_path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.db import open_database
from tests.databases import fresh_postgresql, on_postgresql
from tests.fakes.stores import Stores
from tests.store.helpers import db_url

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.services"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, the tests of SQLite's own behaviour do not apply."""
    if on_postgresql():
        skip = pytest.mark.skip(reason="about SQLite itself; this run is on PostgreSQL")
        for item in items:
            if item.get_closest_marker("sqlite") is not None:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def console_width() -> Iterator[None]:
    """The command line's consoles are made once per process, and a width fixed on them by
    one test (or taken from its environment) would outlive it under pytest-xdist: every test
    sees them 200 columns wide, as the tests' COLUMNS says."""
    from citywatch.cli import output  # noqa: PLC0415

    saved = (output.out._width, output.err._width)
    output.out._width = output.err._width = 200
    yield
    output.out._width, output.err._width = saved


@pytest.fixture(autouse=True)
def metadata_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Under CITYWATCH_TEST_DATABASE=postgresql, every settings built without a database URL
    (and every store test's `db_url`) gets a fresh PostgreSQL database, dropped after."""
    if not on_postgresql() or "module_database" in request.fixturenames:
        yield
        return
    with fresh_postgresql() as url:
        monkeypatch.setenv("CITYWATCH_DATABASE_URL", url)
        yield


@pytest.fixture(scope="module")
def module_database() -> Iterator[None]:
    """For a module whose module-scoped fixtures store what its tests then read: one database
    for the module's data on PostgreSQL, which the tests that use that data read (any other
    test gets a database of its own); nothing on SQLite, where the data folder holds it."""
    if not on_postgresql():
        yield
        return
    with fresh_postgresql() as url, pytest.MonkeyPatch.context() as env:
        env.setenv("CITYWATCH_DATABASE_URL", url)
        yield


def shared_data_dir() -> Path:
    return Path(os.environ.get("CITYWATCH_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only shared data; skipped when absent, except under CI where it must exist."""
    path = shared_data_dir()
    if not (path / "README.md").is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"shared test data missing at {path} (set CITYWATCH_TEST_DATA)")
        pytest.skip(f"shared test data not found at {path} (set CITYWATCH_TEST_DATA)")
    return path


def make_settings(tmp: Path, data: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp / "data", models_dir=data / "models", **overrides)


@pytest.fixture
def settings(tmp_path: Path, shared_data: Path) -> Settings:
    return make_settings(tmp_path, shared_data)


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Stores]:
    """A migrated database and a blob store in tmp_path, behind the store's facade."""
    meta = Stores(open_database(db_url(tmp_path / "db" / "citywatch.db")), LocalBlobStore(tmp_path / "blobs"))
    yield meta
    meta.close()
