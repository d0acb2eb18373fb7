"""Footage with object storage: the local folder is a spool that the archive empties; a
segment is read from wherever it lies; while the archive is away recording goes on into the
spool, with an alarm (readiness, metrics), and catches up when it is back; a purge leaves no
object and no old version behind."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from citywatch.cluster.servers import SeaweedServer, free_port
from citywatch.domain.errors import NotFound
from citywatch.domain.footage import Segment
from citywatch.retention.segments import FootageStore
from citywatch.runtime.metrics import Metrics
from citywatch.runtime.readiness import check_spool
from citywatch.store.db import Database
from citywatch.store.s3 import S3BlobStore

T0 = datetime(2026, 12, 7, 8, tzinfo=UTC)


def s3_client(endpoint: str, key: str, secret: str) -> object:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(connect_timeout=1, retries={"max_attempts": 1}),
    )


@pytest.fixture
def archive(seaweed_server: SeaweedServer, s3_bucket: str) -> S3BlobStore:
    env = seaweed_server.environment
    client = s3_client(seaweed_server.endpoint, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    client.put_bucket_versioning(  # type: ignore[attr-defined]
        Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return S3BlobStore(f"s3://{s3_bucket}/city/footage", client=client)  # type: ignore[arg-type]


def record(store: FootageStore, started_at: datetime, data: bytes) -> Segment:
    pending = store.begin_segment("cam", started_at)
    pending.temp.write_bytes(data)
    return store.add_segment(pending, started_at + timedelta(seconds=60))


def versions(archive: S3BlobStore) -> list[str]:
    client = archive._client
    listed = client.list_object_versions(Bucket=archive.bucket)
    return [v["Key"] for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]]


def test_placed_segments_move_to_the_archive_and_are_read_from_there(
    db: Database, tmp_path: Path, archive: S3BlobStore
) -> None:
    footage = FootageStore(db, tmp_path / "spool", archive=archive)
    first, second = record(footage, T0, os.urandom(4096)), record(footage, T0 + timedelta(minutes=1), b"two")
    spool = footage.spool()
    assert (spool.segments, spool.bytes, spool.last_error) == (2, 4099, None)
    assert footage.archive_spooled() == 2
    assert footage.spool().segments == 0
    assert not footage.absolute(first.path).exists()  # the spool keeps nothing the archive holds
    assert footage.has_file(first) and footage.has_file(second)
    work = tmp_path / "work"
    work.mkdir()
    with footage.local_file(second, work) as copy:
        assert copy.read_bytes() == b"two" and copy.parent == work
    assert list(work.iterdir()) == []  # the copy goes when the reader is done


def test_while_the_archive_is_away_footage_spools_with_an_alarm_and_catches_up(
    db: Database, tmp_path: Path, archive: S3BlobStore
) -> None:
    dead = S3BlobStore(
        "s3://away/city/footage",
        client=s3_client(f"http://127.0.0.1:{free_port()}", "x", "y"),  # type: ignore[arg-type]
    )
    away = FootageStore(db, tmp_path / "spool", archive=dead)
    segment = record(away, T0, b"recorded while the archive was away")
    assert away.archive_spooled() == 0
    spool = away.spool()
    assert spool.segments == 1 and spool.last_error is not None and "away" in spool.last_error
    check = check_spool(spool)
    assert not check.ok and "spooled locally" in check.detail
    metrics = Metrics(spool=away.spool).exposition().decode()
    assert "citywatch_footage_archive_failing 1.0" in metrics
    assert "citywatch_footage_spooled_segments 1.0" in metrics
    with away.local_file(segment, tmp_path) as path:  # still readable from the spool meanwhile
        assert path.read_bytes() == b"recorded while the archive was away"

    back = FootageStore(db, tmp_path / "spool", archive=archive)
    assert back.archive_spooled() == 1
    assert back.spool().segments == 0 and check_spool(back.spool()).ok
    with back.local_file(segment, tmp_path) as path:
        assert path.read_bytes() == b"recorded while the archive was away"


def test_a_purge_leaves_no_object_and_no_old_version(
    db: Database, tmp_path: Path, archive: S3BlobStore
) -> None:
    footage = FootageStore(db, tmp_path / "spool", archive=archive)
    kept, purged = record(footage, T0, b"kept"), record(footage, T0 + timedelta(minutes=1), b"purged")
    footage.archive_spooled()
    spooled = record(footage, T0 + timedelta(minutes=2), b"purged before it was archived")
    assert footage.delete_segments([purged.id, spooled.id]) == [purged, spooled]
    assert versions(archive) == [archive.key(kept.path)]
    assert not footage.has_file(purged) and not footage.has_file(spooled)
    with (
        pytest.raises(NotFound, match="missing from the spool and from"),
        footage.local_file(purged, tmp_path),
    ):
        pass


def test_an_archived_object_without_its_row_is_an_orphan(
    db: Database, tmp_path: Path, archive: S3BlobStore
) -> None:
    footage = FootageStore(db, tmp_path / "spool", archive=archive)
    kept = record(footage, T0, b"kept")
    footage.archive_spooled()
    stray = tmp_path / "stray.mp4"
    stray.write_bytes(b"uploaded by a worker that died before its row")
    archive.put_file("cam/2026-12-07/stray.mp4", stray, sha256=hashlib.sha256(stray.read_bytes()).hexdigest())
    assert footage.clean_orphans(older_than_s=3600) == 0  # too young: its row may be on its way
    assert footage.clean_orphans(older_than_s=0) == 1
    assert versions(archive) == [archive.key(kept.path)]
