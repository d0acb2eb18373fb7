"""Publishing a request's export: one signed package under the data folder, recorded with
the request in one transaction once the file is whole (never a package on disk that no row
records); opening a recorded one, within the reader's camera scope."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from citywatch.audit.hooks import Audit
from citywatch.audit.keys import load_or_create
from citywatch.domain.access import Permission, within_scope
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import utc_now
from citywatch.domain.errors import CorruptMedia, NotFound, OutOfScope, Unavailable
from citywatch.domain.records import SightingInfo
from citywatch.requests.export_store import EXPORTS_FOLDER, ExportInfo, get_export
from citywatch.requests.package import Entry, Verdict, build_package, verify_package
from citywatch.requests.records import RequestInfo
from citywatch.requests.service import RequestService
from citywatch.retention.segments import describe_os_error
from citywatch.store.blobs import make_dirs
from citywatch.store.db import Database
from citywatch.store.retention_tables import ExportRow
from citywatch.store.staging import WORK_FOLDER


def publish_export(
    requests: RequestService,
    data_dir: Path,
    info: RequestInfo,
    entries: list[Entry],
    *,
    by: Actor,
    details: dict[str, object] | None = None,
) -> RequestInfo:
    """Sign `entries` (with the instance's key, kept in `data_dir`) into the request's package
    under `<data_dir>/exports` and record it in `requests` as the request's fulfilment."""
    now = utc_now()
    relative = f"{now.date().isoformat()}/request-{info.id}-{now.strftime('%H%M%S')}.zip"
    built = build_package(
        data_dir / EXPORTS_FOLDER / relative,
        entries,
        key=load_or_create(data_dir),
        reference=info.reference,
        created_by=by.name,
        created_at=now,
    )
    export = ExportRow(
        request_id=info.id,
        reference=info.reference,
        path=relative,
        size=built.size,
        sha256=built.sha256,
        created_by=by.name,
        created_at=now,
    )
    try:
        return requests.fulfilled(info.id, export, by=by, details=details)
    except BaseException:
        built.path.unlink(missing_ok=True)  # never an export on disk that no row records
        raise


def verify_export(
    data_dir: Path,
    audit: Audit,
    package: Path,
    *,
    by: Actor,
    what: str,
    public_key: Ed25519PublicKey | None = None,
) -> Verdict:
    """Check a package's signature (against `public_key`, default this instance's, kept in
    `data_dir`) and every file in it; the check is audited (`export.verify`, as `by`) as `what`
    (e.g. `export:3`)."""
    key = public_key or load_or_create(data_dir).public_key()
    try:
        verdict = verify_package(package, key)
    except CorruptMedia as exc:  # not a package at all: recorded as a failed check, then raised
        audit(AuditEvent(Action.EXPORT_VERIFY, what, params={"ok": False, "problem": str(exc)}), by)
        raise
    params = {"ok": verdict.ok, "problem": verdict.problem}
    audit(AuditEvent(Action.EXPORT_VERIFY, what, params=params), by)
    return verdict


def stored_export(
    database: Database,
    data_dir: Path,
    audit: Audit,
    export_id: int,
    *,
    by: Actor | None = None,
    permission: Permission = Permission.EXPORTS_VERIFY,
    action: Action = Action.EXPORT_VERIFY,
) -> tuple[ExportInfo, Path]:
    """A recorded export (in `database`) and its file (under `<data_dir>/exports`); NotFound
    when either is gone. With `by`, only one
    wholly within their camera scope: else answered as an export that does not exist
    (OutOfScope), audited (`access.refused` of `action` under `permission`, naming the
    cameras outside, never the export's content)."""
    info = get_export(database, export_id)
    if by is not None and not within_scope(by, info.cameras):
        outside = sorted(set(info.cameras or ()) - (by.cameras or frozenset()))
        params = {"permission": str(permission), "cameras": outside, "action": action}
        audit(AuditEvent(Action.ACCESS_REFUSED, f"export:{info.id}", params=params), by)
        raise OutOfScope(f"no export with id {export_id}")  # as get_export answers one that does not exist
    root = (data_dir / EXPORTS_FOLDER).resolve()
    path = (root / info.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound(f"export {export_id}: its package {info.path} is missing")
    return info, path


def open_export(
    database: Database, data_dir: Path, audit: Audit, export_id: int, *, by: Actor
) -> tuple[ExportInfo, Path]:
    """A recorded export's package for `by` to read, audited first (`export.download`): an
    export holds footage and sightings. Only one wholly within `by`'s camera scope (see
    `stored_export`)."""
    info, path = stored_export(
        database,
        data_dir,
        audit,
        export_id,
        by=by,
        permission=Permission.REQUESTS_DECIDE,
        action=Action.EXPORT_DOWNLOAD,
    )
    params = {"request": info.request_id, "reference": info.reference, "sha256": info.sha256}
    audit(AuditEvent(Action.EXPORT_DOWNLOAD, f"export:{info.id}", params=params, result_count=1), by)
    return info, path


@contextmanager
def work_folder(data_dir: Path, prefix: str) -> Iterator[Path]:
    """A private folder under `<data_dir>/tmp` for an export's working files (never the
    system's /tmp: an unblurred cut stays on the data volume, under the instance's
    permissions), removed when the export ends; the runtime's `recover` removes what a crash
    left."""
    root = data_dir / WORK_FOLDER
    try:
        make_dirs(root)
        folder = tempfile.TemporaryDirectory(dir=root, prefix=prefix)
    except OSError as exc:
        raise Unavailable(f"cannot make a working folder under {root}: {describe_os_error(exc)}") from exc
    with folder as path:
        yield Path(path)


def sighting_record(s: SightingInfo) -> dict[str, object]:
    """A sighting as an export shows it: no template, no stored path."""
    return {k: plain(v) for k, v in asdict(s).items() if k != "crop_path"}


def request_record(info: RequestInfo, **more: object) -> dict[str, object]:
    """The request as its export's `request.json` shows it, with what the export adds."""
    return {
        "id": info.id,
        "kind": info.kind.value,
        "reference": info.reference,
        "requester": info.requester,
        "cameras": info.cameras,
        "from": info.window.start,
        "until": info.window.end,
        "decided_by": info.decided_by,
        **more,
    }


def plain(value: object) -> object:
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def json_bytes(value: object) -> bytes:
    return json.dumps(plain(value), indent=2, sort_keys=True, default=str).encode()
