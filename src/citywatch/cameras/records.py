"""What a camera record is, what a change of one holds, and how a camera's source is shown:
never with the credentials a stream URL may carry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from citywatch.config.ingest import CameraSettings
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import ProcessingMode
from citywatch.ingest.open import STREAM_SCHEMES

CONFIGURATION = "configuration file"
"""Who `created_by` names for a camera the configuration file declares."""
URL_MAX = 2000
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HIDDEN = "***"


@dataclass(frozen=True, slots=True)
class CameraRecord:
    """A camera as the city runs it, and where it comes from: the configuration file
    (`from_config`, version 0, changed only there) or the camera records (version 1 when added,
    one more at each change)."""

    settings: CameraSettings
    from_config: bool
    version: int
    created_by: str
    changed_by: str
    created_at: datetime | None = None
    """None for the file's cameras (the file says nothing of when)."""
    changed_at: datetime | None = None
    key: int = 0
    """The record's row, never reused (0: the file's): with `version`, one state for good."""

    @property
    def id(self) -> str:
        return self.settings.id


@dataclass(frozen=True, slots=True)
class CameraChange:
    """What to change of a camera record; None (and an empty `source`) leave a field as it is."""

    name: str | None = None
    url: str | None = None
    mode: ProcessingMode | None = None
    location: tuple[float, float] | None = None
    clear_location: bool = False
    """Take the camera out of the map (and out of the zones drawn by area)."""
    source: Mapping[str, object] | None = None
    """Source settings to change (`SourceSettings`' fields), the others kept."""


@dataclass(frozen=True, slots=True)
class RemovedCamera:
    record: CameraRecord
    """The record as it was when removed."""
    footage_kept: bool
    """Footage of the camera is still kept: it stays until its retention ends (or its holds
    are released), found by the camera's id."""


def shown_url(url: str) -> str:
    """`url` as it may be shown or audited: the user and password of a stream URL and the
    values of its query (where cameras often take their credentials) replaced by `***`. A
    path is shown as it is."""
    if not _SCHEME.match(url):
        return url
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port or address: show nothing of it
    except ValueError:
        return f"{url.partition(':')[0]}://{_HIDDEN}"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{_HIDDEN}@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{pair.partition('=')[0]}={_HIDDEN}" if "=" in pair else pair
        for pair in parts.query.split("&")
        if pair
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def check_url(url: str) -> None:
    """Refuse a source no camera record may have: blank, too long, with whitespace or control
    characters, a scheme no source reads, or a relative path (the city's processes each have a
    working folder of their own). InvalidInput names the URL only as `shown_url` shows it."""
    if not url or len(url) > URL_MAX:
        raise InvalidInput(f"a camera's url is 1 to {URL_MAX} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidInput("a camera's url holds no whitespace or control characters")
    if _SCHEME.match(url):
        scheme = url.partition(":")[0].lower()
        if scheme not in STREAM_SCHEMES | {"file"}:
            supported = ", ".join(sorted(STREAM_SCHEMES | {"file"}))
            raise InvalidInput(f"{shown_url(url)}: no source reads {scheme!r} (use {supported} or a path)")
        try:
            _ = urlsplit(url).port
        except ValueError:
            raise InvalidInput(f"{shown_url(url)}: not a well-formed URL") from None
        return
    if not PurePath(url).is_absolute():
        raise InvalidInput(f"{url}: a file or folder is named by its absolute path")


def new_camera(fields: Mapping[str, Any]) -> CameraSettings:
    """A camera from its fields, validated as the configuration file's cameras are
    (InvalidInput says what is wrong, never echoing the values)."""
    try:
        return CameraSettings.model_validate(dict(fields))
    except ValidationError as exc:
        raise InvalidInput(validation_problems(exc)) from None


def validation_problems(exc: ValidationError) -> str:
    return "invalid camera: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'camera'}: {e['msg']}" for e in exc.errors()
    )
