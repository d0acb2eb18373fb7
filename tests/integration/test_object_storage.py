"""The runtime on S3-compatible object storage (a real SeaweedFS): crops and footage go there
and nowhere on the local disk once archived; the purge's canary covers the object store's
own files on disk: planted bytes are in SeaweedFS's volume files before the purge, and gone
from them (after the vacuum a deployment runs) and from every version after it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from citywatch.cluster.servers import SeaweedServer
from citywatch.config.pipeline import RetentionSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.retention.holds import HoldService
from citywatch.runtime.build import Runtime
from citywatch.store.s3 import S3BlobStore
from tests.store.helpers import T0, Clock, sighting

DAY = timedelta(days=1)
SYSTEM = Actor("citywatch@system", "system", service=True)
CROP_CANARY = b"CANARY-S3-CROP-BYTES"
SEGMENT_CANARY = b"CANARY-S3-SEGMENT-BYTES"


@pytest.fixture
def rt(
    tmp_path: Path, seaweed_server: SeaweedServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    for name, value in seaweed_server.environment.items():
        monkeypatch.setenv(name, value)
    runtime = Runtime(Settings(data_dir=tmp_path / "data", storage=f"s3://{s3_bucket}/city"))
    yield runtime
    runtime.close()


def incompressible(marker: bytes) -> bytes:
    """Random bytes around `marker`: SeaweedFS gzips what compresses, which would hide it."""
    return os.urandom(4000) + marker + os.urandom(4000)


def on_disk(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_the_purge_leaves_no_trace_in_the_object_store_files(
    rt: Runtime, seaweed_server: SeaweedServer, s3_bucket: str, tmp_path: Path
) -> None:
    client = boto3.client("s3")
    client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    saved = rt.sightings.add_sighting(sighting(crop=incompressible(CROP_CANARY)))
    pending = rt.footage.begin_segment("cam-1", T0)
    pending.temp.write_bytes(b"\x00\x00\x00\x18ftypmp42" + incompressible(SEGMENT_CANARY))
    rt.footage.add_segment(pending, T0 + timedelta(seconds=60))
    assert rt.footage.archive_spooled() == 1
    assert isinstance(rt.blobs, S3BlobStore) and rt.blobs.exists(saved.crop_path)

    local = on_disk(tmp_path / "data")
    assert CROP_CANARY not in local and SEGMENT_CANARY not in local  # nothing kept on this disk
    stored = on_disk(seaweed_server.volume_folder)
    assert CROP_CANARY in stored and SEGMENT_CANARY in stored  # the scan sees what is there

    clock = Clock(T0 + 6 * DAY)
    holds = HoldService(
        rt.database,
        policy=RetentionSettings().policy(),
        clock=clock,
        audit=rt._audit_as,
        remove_file=rt._remove_file,
    )
    receipt = holds.purger.purge(by=SYSTEM)
    assert receipt is not None and receipt.counts["sightings"] == 1 and receipt.counts["footage"] == 1
    listed = client.list_object_versions(Bucket=s3_bucket)
    assert listed.get("Versions", []) == [] and listed.get("DeleteMarkers", []) == []

    deadline = time.monotonic() + 60  # the master learns of the deleted bytes by heartbeat
    while time.monotonic() < deadline:
        seaweed_server.vacuum()
        stored = on_disk(seaweed_server.volume_folder)
        if CROP_CANARY not in stored and SEGMENT_CANARY not in stored:
            break
        time.sleep(1)
    assert [c for c in (CROP_CANARY, SEGMENT_CANARY) if c in stored] == []
    assert rt.audit_log.verify().ok
