"""The scale-out engines for tests, each the real server on free ports in a temporary folder:
a NATS server with JetStream per test (it starts in some 50 ms; a test may restart or kill
it), and one SeaweedFS S3 server per test process (it takes seconds to start), each test
in a bucket of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.cluster.servers import NatsServer, SeaweedServer


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A NATS server with JetStream (file storage, `sync_interval: always`) of this test's own."""
    server = NatsServer(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def seaweed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """One SeaweedFS (master, volume, filer, S3) for this test process."""
    server = SeaweedServer(tmp_path_factory.mktemp("seaweed")).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def s3_bucket(seaweed_server: SeaweedServer) -> str:
    """A new, empty bucket on the test process's SeaweedFS, for this test alone."""
    import boto3  # noqa: PLC0415

    name = f"test-{uuid.uuid4().hex[:20]}"
    client = boto3.client(
        "s3",
        endpoint_url=seaweed_server.endpoint,
        aws_access_key_id=seaweed_server.environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=seaweed_server.environment["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return name
