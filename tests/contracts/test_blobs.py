"""The blob store's contract, held by both adapters: files under a folder (the embedded
default) and S3-compatible object storage (a real SeaweedFS, each test in a bucket of its own)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from citywatch.cluster.servers import SeaweedServer
from citywatch.domain.errors import InvalidInput, NotFound, Unavailable
from citywatch.store.blobs import BlobStore, LocalBlobStore
from citywatch.store.s3 import S3BlobStore
from citywatch.store.storage import open_blobs


def _client(server: SeaweedServer):  # type: ignore[no-untyped-def]
    env = server.environment
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    server: SeaweedServer = request.getfixturevalue("seaweed_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    yield S3BlobStore(f"s3://{bucket}/city", client=_client(server))


def test_a_blob_put_is_read_back_whole_under_a_new_name(blobs: BlobStore) -> None:
    data = os.urandom(50_000)
    first = blobs.put(data, folder="crops/2026-12-07", suffix=".jpg")
    second = blobs.put(data, folder="crops/2026-12-07", suffix="jpg")
    assert first.path != second.path
    assert first.path.startswith("crops/2026-12-07/") and first.path.endswith(".jpg")
    assert first.sha256 == hashlib.sha256(data).hexdigest() and first.size == len(data)
    assert blobs.read(first.path) == data == blobs.read(second.path)
    assert blobs.exists(first.path)


@pytest.mark.parametrize(
    ("folder", "suffix"), [("../escape", ".jpg"), ("/abs", ".jpg"), ("crops", ".j/pg"), ("crops", "")]
)
def test_paths_leaving_the_store_and_odd_suffixes_are_refused(
    blobs: BlobStore, folder: str, suffix: str
) -> None:
    with pytest.raises(InvalidInput):
        blobs.put(b"x", folder=folder, suffix=suffix)


def test_reading_a_missing_or_escaping_blob_says_so(blobs: BlobStore) -> None:
    with pytest.raises(NotFound):
        blobs.read("crops/2026-12-07/nothing.jpg")
    with pytest.raises(InvalidInput):
        blobs.read("../../etc/passwd")
    assert not blobs.exists("crops/2026-12-07/nothing.jpg")


def test_delete_removes_the_blob_and_says_whether_it_was_there(blobs: BlobStore) -> None:
    ref = blobs.put(b"face", folder="crops/d", suffix=".jpg")
    assert blobs.delete(ref.path) is True
    assert not blobs.exists(ref.path)
    with pytest.raises(NotFound):
        blobs.read(ref.path)
    assert blobs.delete(ref.path) is False


def test_orphans_are_the_unreferenced_blobs_of_a_folder_old_enough(blobs: BlobStore) -> None:
    kept = blobs.put(b"kept", folder="crops/a", suffix=".jpg")
    lost = blobs.put(b"lost", folder="crops/b", suffix=".jpg")
    other = blobs.put(b"ref", folder="references", suffix=".png")
    assert blobs.orphans({kept.path}, folder="crops") == [lost.path]
    assert blobs.orphans({kept.path}) == sorted([lost.path, other.path])
    assert blobs.orphans({kept.path}, folder="crops", older_than_s=3600) == []
    assert blobs.orphans(set(), folder="nothing-here") == []


def test_the_locator_names_where_a_person_finds_the_blob(blobs: BlobStore, tmp_path: Path) -> None:
    ref = blobs.put(b"x", folder="crops", suffix=".jpg")
    where = blobs.locator(ref.path)
    if isinstance(blobs, LocalBlobStore):
        assert Path(where) == tmp_path / "blobs" / ref.path and Path(where).read_bytes() == b"x"
    else:
        assert where.startswith("s3://") and where.endswith(f"/city/{ref.path}")


def test_a_versioned_bucket_keeps_no_old_version_after_a_delete(
    seaweed_server: SeaweedServer, s3_bucket: str
) -> None:
    client = _client(seaweed_server)
    client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    blobs = S3BlobStore(f"s3://{s3_bucket}/city", client=client)
    ref = blobs.put(b"template-bearing crop", folder="crops/d", suffix=".jpg")
    key = blobs.key(ref.path)
    client.put_object(Bucket=s3_bucket, Key=key, Body=b"an overwrite leaves the first as an old version")
    client.delete_object(Bucket=s3_bucket, Key=key)  # a plain delete leaves a marker and both versions
    listed = client.list_object_versions(Bucket=s3_bucket, Prefix=key)
    assert len(listed.get("Versions", [])) == 2 and len(listed.get("DeleteMarkers", [])) == 1
    assert blobs.orphans(set()) == [ref.path]  # a key with only old versions is still an orphan
    assert blobs.delete(ref.path) is True
    listed = client.list_object_versions(Bucket=s3_bucket, Prefix=key)
    assert listed.get("Versions", []) == [] and listed.get("DeleteMarkers", []) == []


def test_unreachable_object_storage_is_unavailable_not_lost(tmp_path: Path) -> None:
    from citywatch.cluster.servers import free_port  # noqa: PLC0415

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        region_name="us-east-1",
        config=boto3.session.Config(connect_timeout=1, retries={"max_attempts": 1}),
    )
    blobs = S3BlobStore("s3://nowhere/city", client=client)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="s3://nowhere/city"):
        blobs.put(b"x", folder="crops", suffix=".jpg")
    with pytest.raises(Unavailable):
        blobs.read("crops/a.jpg")
    assert time.monotonic() - started < 15


def test_wrong_credentials_are_refused_with_a_clear_error(
    seaweed_server: SeaweedServer, s3_bucket: str
) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=seaweed_server.endpoint,
        aws_access_key_id="intruder",
        aws_secret_access_key="guess",
        region_name="us-east-1",
    )
    with pytest.raises(Unavailable, match="InvalidAccessKeyId"):
        S3BlobStore(f"s3://{s3_bucket}/city", client=client).put(b"x", folder="crops", suffix=".jpg")


def test_the_storage_setting_chooses_the_adapter(
    tmp_path: Path, seaweed_server: SeaweedServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(open_blobs("", tmp_path), LocalBlobStore)
    for name, value in seaweed_server.environment.items():
        monkeypatch.setenv(name, value)  # boto3 reads its endpoint and keys from the environment
    s3 = open_blobs(f"s3://{s3_bucket}/city", tmp_path)
    assert isinstance(s3, S3BlobStore)
    ref = s3.put(b"through the environment", folder="crops", suffix=".jpg")
    assert s3.read(ref.path) == b"through the environment"
    with pytest.raises(InvalidInput):
        S3BlobStore("http://bucket/x")
