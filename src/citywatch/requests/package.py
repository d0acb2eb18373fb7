"""Export packages: a zip of clips, sightings and alerts (JSON) and crops, with a manifest
listing the SHA-256 of every file, signed with the instance's Ed25519 key.

The zip is written to a temporary file, fsynced and renamed into place: a package either
exists whole or not at all. `verify_package` checks the signature and every file, offline,
and names the first thing wrong.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from citywatch.audit.keys import public_pem
from citywatch.domain.errors import CorruptMedia, Unavailable
from citywatch.store.blobs import fsync_dir

FORMAT = "citywatch-export/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "signing-key.pub.pem"
"""Included for convenience only: verify against the instance's key (`audit export-key`)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the package: its name inside the zip and its bytes, or a file to copy."""

    name: str
    data: bytes | None = None
    source: Path | None = None


@dataclass(frozen=True, slots=True)
class Built:
    path: Path
    size: int
    sha256: str
    files: int


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    files: int
    problem: str | None = None
    reference: str = ""


def build_package(
    dest: Path,
    entries: Sequence[Entry],
    *,
    key: Ed25519PrivateKey,
    reference: str,
    created_by: str,
    created_at: datetime,
) -> Built:
    """Write the signed package to `dest` (tmp → fsync → rename); nothing is left on failure."""
    names = [e.name for e in entries]
    if len(set(names)) != len(names) or any(n in {MANIFEST, SIGNATURE, PUBLIC_KEY} for n in names):
        raise ValueError("export entries need distinct names other than the manifest's")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        listed = []
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
            for e in entries:
                data = e.data if e.data is not None else _read(e.source)
                zf.writestr(e.name, data)
                listed.append({"path": e.name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
            manifest = json.dumps(
                {
                    "format": FORMAT,
                    "reference": reference,
                    "created_by": created_by,
                    "created_at": created_at.isoformat(),
                    "files": listed,
                },
                indent=2,
                sort_keys=True,
            ).encode()
            zf.writestr(MANIFEST, manifest)
            zf.writestr(SIGNATURE, base64.b64encode(key.sign(manifest)))
            zf.writestr(PUBLIC_KEY, public_pem(key.public_key()))
            zf.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise Unavailable(f"cannot write the export {dest.name}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    data = dest.read_bytes()
    return Built(dest, len(data), hashlib.sha256(data).hexdigest(), len(entries))


def verify_package(path: Path, public_key: Ed25519PublicKey | None = None) -> Verdict:
    """Check the manifest's signature (against `public_key`, else the key inside, which
    proves integrity but not origin) and every file's SHA-256; name the first problem."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CorruptMedia(f"{path}: not a readable export package ({exc})") from None
    with zf:
        try:
            return _check(zf, public_key)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, TypeError) as exc:
            # a member that no longer decompresses or a manifest that no longer parses
            return Verdict(False, 0, f"the package is damaged ({exc})")


def _check(zf: zipfile.ZipFile, public_key: Ed25519PublicKey | None) -> Verdict:
    names = set(zf.namelist())
    for needed in (MANIFEST, SIGNATURE):
        if needed not in names:
            return Verdict(False, 0, f"{needed} is missing")
    manifest_bytes = zf.read(MANIFEST)
    key = public_key or _inner_key(zf)
    try:
        key.verify(base64.b64decode(zf.read(SIGNATURE)), manifest_bytes)
    except (InvalidSignature, ValueError):
        return Verdict(False, 0, "the manifest's signature does not verify")
    manifest = json.loads(manifest_bytes)
    files = manifest.get("files", [])
    for f in files:
        if f["path"] not in names:
            return Verdict(False, len(files), f"{f['path']} is listed but missing")
        if hashlib.sha256(zf.read(f["path"])).hexdigest() != f["sha256"]:
            return Verdict(False, len(files), f"{f['path']} was changed (SHA-256 differs)")
    extra = names - {f["path"] for f in files} - {MANIFEST, SIGNATURE, PUBLIC_KEY}
    if extra:
        return Verdict(False, len(files), f"{sorted(extra)[0]} is not in the manifest")
    return Verdict(True, len(files), None, manifest.get("reference", ""))


def _inner_key(zf: zipfile.ZipFile) -> Ed25519PublicKey:
    if PUBLIC_KEY not in zf.namelist():
        raise CorruptMedia(f"{PUBLIC_KEY} is missing: verify with the instance's key (--public-key)")
    key = serialization.load_pem_public_key(zf.read(PUBLIC_KEY))
    if not isinstance(key, Ed25519PublicKey):
        raise CorruptMedia("the package's public key is not Ed25519")
    return key


def _read(source: Path | None) -> bytes:
    if source is None:
        raise ValueError("an export entry needs data or a source file")
    return source.read_bytes()
