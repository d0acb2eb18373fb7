"""Writers on PostgreSQL outlive their connections: after the server ends every connection
of the database (`pg_terminate_backend`, as a restart or a failover does), the next write
reconnects and nothing committed is lost."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime
from tests.databases import on_postgresql
from tests.store.helpers import sighting

pytestmark = pytest.mark.skipif(not on_postgresql(), reason="about PostgreSQL's connections")


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


def terminate_every_connection() -> int:
    url = os.environ["CITYWATCH_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    return int(ended[0]) if ended else 0


def test_writes_go_on_after_the_server_ends_every_connection(rt: Runtime) -> None:
    first = rt.sightings.add_sighting(sighting(track_id=1))
    rt.audit_log.verify()
    assert terminate_every_connection() >= 1  # the pool's idle connections, ended under it
    second = rt.sightings.add_sighting(sighting(track_id=2))
    assert second.sighting_id > first.sighting_id
    assert {s.id for s in rt.sightings.list_sightings(limit=10)} == {first.sighting_id, second.sighting_id}
    assert rt.audit_log.verify().ok
