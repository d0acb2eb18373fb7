"""Which blob store the `storage` setting names: files under the data folder (empty, the
embedded default) or S3-compatible object storage (`s3://bucket/prefix`). boto3 is imported
only where S3 is used, so that the embedded default and the command line start fast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from citywatch.store.blobs import BlobStore, LocalBlobStore, relative

if TYPE_CHECKING:
    from citywatch.store.s3 import S3BlobStore


def open_blobs(storage: str, local_root: Path) -> BlobStore:
    """The blob store the `storage` setting names: files under `local_root` when it is
    empty, else S3-compatible object storage (`s3://bucket/prefix`; boto3 is imported only then)."""
    if not storage:
        return LocalBlobStore(local_root)
    from citywatch.store.s3 import S3BlobStore  # noqa: PLC0415  (boto3 only where S3 is used)

    return S3BlobStore(storage)


def open_archive(storage: str, folder: str) -> S3BlobStore | None:
    """Object storage for `folder` (footage) under the `storage` setting's prefix; None on
    the embedded default, where the files stay where they were written."""
    if not storage:
        return None
    from citywatch.store.s3 import S3BlobStore  # noqa: PLC0415  (boto3 only where S3 is used)

    return S3BlobStore(f"{storage.rstrip('/')}/{relative(folder, what='folder').as_posix()}")
