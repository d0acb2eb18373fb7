"""The blob store on S3-compatible object storage (`storage: s3://bucket/prefix`), through
boto3: the scale-out adapter of `store.blobs.BlobStore`.

Blob paths are the same as on disk (`crops/2026-12-07/<hash>-<uuid>.jpg`); each is the key
`<prefix>/<path>` in the bucket. The endpoint and credentials come from boto3's own
environment (`AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, or a
profile), never from the settings file.

- A `put` returns once the server has acknowledged the whole object (S3 writes are atomic:
  a reader sees the old state or the whole new object), with its SHA-256 sent along so that
  the server refuses a corrupted upload.
- A `delete` removes every version and delete marker of the key, so that a versioned
  bucket keeps no old copy of what a purge deleted.
- `orphans` lists every key under a folder that has any version, current or not.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from citywatch.domain.errors import InvalidInput, NotFound, Unavailable
from citywatch.store.blobs import BlobRef, new_blob, relative

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

_MISSING = {"NoSuchKey", "404", "NotFound"}
_CONFIG = Config(
    connect_timeout=3,
    read_timeout=20,
    retries={"max_attempts": 3, "mode": "standard"},
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
)


def parse_storage_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` as (bucket, prefix without slashes at its ends)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise InvalidInput(f"storage {url!r} is not s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


class S3BlobStore:
    """Blobs as objects under `prefix` in `bucket`."""

    def __init__(self, url: str, *, client: S3Client | None = None) -> None:
        self._bucket, self._prefix = parse_storage_url(url)
        self._client: S3Client = client or boto3.client("s3", config=_CONFIG)
        self.url = url

    @property
    def bucket(self) -> str:
        return self._bucket

    def key(self, path: str) -> str:
        """The object key of a blob path; paths leaving the prefix are refused."""
        if not path:
            raise InvalidInput("blob path is empty")
        rel = relative(path, what="path").as_posix()
        return f"{self._prefix}/{rel}" if self._prefix else rel

    def _folder_key(self, folder: str) -> str:
        rel = relative(folder, what="folder").as_posix() if folder else ""
        joined = "/".join(part for part in (self._prefix, rel) if part and part != ".")
        return f"{joined}/" if joined else ""

    def put(self, data: bytes, *, folder: str, suffix: str) -> BlobRef:
        rel_folder, name, digest = new_blob(data, folder=folder, suffix=suffix)
        path = (rel_folder / name).as_posix()
        checksum = _checksum(digest)
        self._call(
            "write",
            path,
            lambda: self._client.put_object(
                Bucket=self._bucket, Key=self.key(path), Body=data, ChecksumSHA256=checksum
            ),
        )
        return BlobRef(path=path, sha256=digest, size=len(data))

    def read(self, path: str) -> bytes:
        key = self.key(path)
        answer = self._call("read", path, lambda: self._client.get_object(Bucket=self._bucket, Key=key))
        body = answer["Body"]
        try:
            data: bytes = body.read()
            return data
        except (BotoCoreError, OSError) as exc:
            raise Unavailable(f"cannot read blob {path} from {self.url}: {exc}") from exc
        finally:
            body.close()

    def exists(self, path: str) -> bool:
        try:
            self._call(
                "look up", path, lambda: self._client.head_object(Bucket=self._bucket, Key=self.key(path))
            )
        except NotFound:
            return False
        return True

    def delete(self, path: str) -> bool:
        """Every version and delete marker of the key (a plain bucket's one object included)."""
        key = self.key(path)
        versions = [(k, v, marker) for k, v, marker in self._versions(key) if k == key]
        for _key, version, _marker in versions:
            self._call(
                "delete",
                path,
                lambda version=version: self._client.delete_object(
                    Bucket=self._bucket, Key=key, VersionId=version
                ),
            )
        return any(not marker for _k, _v, marker in versions)

    def orphans(self, referenced: set[str], *, folder: str = "", older_than_s: float = 0.0) -> list[str]:
        prefix = self._folder_key(folder)
        cutoff = time.time() - older_than_s
        strip = len(f"{self._prefix}/") if self._prefix else 0
        found = (
            (key[strip:], modified)
            for key, modified in self._keys_with_any_version(prefix)  # each key once
        )
        return sorted(
            path
            for path, modified in found
            if path not in referenced and not (older_than_s > 0 and modified > cutoff)
        )

    def locator(self, path: str) -> str:
        return f"s3://{self._bucket}/{self.key(path)}"

    def put_file(self, path: str, source: Path, *, sha256: str) -> None:
        """Upload the file `source` whole as the blob `path` (a footage segment, named by its
        camera and time), its SHA-256 (`sha256`, hex) checked by the server on arrival."""
        key = self.key(path)
        checksum = _checksum(sha256)
        with source.open("rb") as body:
            self._call(
                "write",
                path,
                lambda: self._client.put_object(
                    Bucket=self._bucket, Key=key, Body=body, ChecksumSHA256=checksum
                ),
            )

    def download(self, path: str, target: Path) -> None:
        """The blob `path` into the file `target` (`NotFound` when there is none)."""
        key = self.key(path)
        self._call("look up", path, lambda: self._client.head_object(Bucket=self._bucket, Key=key))
        self._call("read", path, lambda: self._client.download_file(self._bucket, key, str(target)))

    def sweep_empty_days(self, folder: str, *, keep: Collection[str], older_than_s: float) -> int:
        return 0  # object storage has no folders to leave behind

    def _versions(self, prefix: str) -> Iterator[tuple[str, str, bool]]:
        """(key, version id, is a delete marker) of every version under `prefix`."""
        for page in self._version_pages(prefix):
            for version in page.get("Versions", []):
                yield version["Key"], version.get("VersionId", "null"), False
            for marker in page.get("DeleteMarkers", []):
                yield marker["Key"], marker.get("VersionId", "null"), True

    def _keys_with_any_version(self, prefix: str) -> Iterator[tuple[str, float]]:
        """Each key under `prefix` with a version or delete marker, and its newest change."""
        newest: dict[str, float] = {}
        for page in self._version_pages(prefix):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                stamp = entry["LastModified"].timestamp()
                newest[entry["Key"]] = max(stamp, newest.get(entry["Key"], stamp))
        yield from newest.items()

    def _version_pages(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self._client.get_paginator("list_object_versions").paginate(
            Bucket=self._bucket, Prefix=prefix
        )
        iterator = iter(pages)
        while True:
            page = self._call("list", prefix, lambda: next(iterator, None))
            if page is None:
                return
            yield page

    def _call(self, what: str, path: str, request: Any) -> Any:
        """Run one request; a missing key is `NotFound`, anything else the storage refused or
        could not do is `Unavailable`, naming the blob and the bucket."""
        try:
            return request()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in _MISSING:
                raise NotFound(f"blob {path} not found in {self.url}") from None
            message = error.get("Message") or code
            raise Unavailable(f"cannot {what} blob {path} in {self.url}: {code}: {message}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"cannot {what} blob {path} in {self.url}: {exc}") from exc


def _checksum(sha256_hex: str) -> str:
    """A SHA-256 as S3's `ChecksumSHA256` takes it (base64 of the digest's bytes)."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()
