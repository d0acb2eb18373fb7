"""Cameras as the API takes and gives them: a camera with its mode now and why, and where it
comes from (the configuration file or a record); a record to add, a change, a removal. A
source is never shown with its credentials (`cameras.records.shown_url`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from citywatch.cameras.records import URL_MAX, CameraChange
from citywatch.config.ingest import CAMERA_ID_PATTERN, SourceSettings
from citywatch.domain.policy import DEFAULT_MODE, ProcessingMode
from citywatch.pipeline.live import LiveState

_SOURCE_EXAMPLE: dict[str, Any] = {
    "detect_fps": 8.0,
    "open_timeout_s": 10.0,
    "read_timeout_s": 10.0,
    "reconnect_initial_s": 1.0,
    "reconnect_max_s": 30.0,
    "replay": False,
    "reconnect_attempts": 5,
}
_URL = (
    "Video file or image folder (an absolute path), or an rtsp(s):// / http(s):// stream. It may "
    "carry the stream's credentials (`rtsp://user:password@host/…`): they are kept to open "
    "the stream, and never shown or audited."
)


class CameraPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "gate-1",
                    "name": "North gate",
                    "location": [51.5007, -0.1246],
                    "configured_mode": "watchlist",
                    "requested_mode": "watchlist",
                    "mode": "detect",
                    "reasons": ["no authorisation in force names camera gate-1"],
                    "authorisations": [],
                    "watchlists": [],
                    "state": "live",
                    "source_url": "rtsp://***@10.0.4.21:554/stream1",
                    "source": _SOURCE_EXAMPLE,
                    "from_config": False,
                    "version": 2,
                    "created_by": "ada",
                    "changed_by": "ada",
                    "changed_at": "2026-11-28T09:30:00Z",
                }
            ]
        }
    )

    id: str
    name: str
    location: tuple[float, float] | None = Field(description="[latitude, longitude], if configured.")
    configured_mode: ProcessingMode = Field(description="The mode its configuration asks for.")
    requested_mode: ProcessingMode = Field(description="What configuration and policy rules ask for now.")
    mode: ProcessingMode = Field(description="What holds now, after authorisations, zones and events.")
    reasons: list[str] = Field(description="Why the mode is lower than requested, if it is.")
    authorisations: list[str] = Field(
        description="References of the authorisations identification runs under."
    )
    watchlists: list[str] = Field(description="The watchlists this camera may match against now.")
    state: LiveState = Field(
        LiveState.NOT_RUNNING,
        description="Its worker in this process: live, stalled, reconnecting, stopped, failed, "
        "opening, or `not running`.",
    )
    source_url: str = Field(
        description="Where its frames come from, without credentials: a stream's user and "
        "password, and its query's values, are shown as `***`."
    )
    source: SourceSettings = Field(description="How its source is opened, read and reconnected.")
    from_config: bool = Field(
        description="Declared in the configuration file (changed only there), not a record."
    )
    version: int = Field(description="The record's version, one more at each change (0: the file's).")
    created_by: str = Field(description="Who added the record (`configuration file` for the file's).")
    changed_by: str = Field(description="Who last changed it.")
    changed_at: datetime | None = Field(description="When it last changed (none for the file's).")


class CameraList(BaseModel):
    items: list[CameraPublic]


class CameraCreate(BaseModel):
    """A camera record to add (as a camera of the configuration file is written)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "gate-2",
                    "name": "South gate",
                    "url": "rtsp://viewer:secret@10.0.4.22:554/stream1",
                    "mode": "detect",
                    "location": [51.5001, -0.1250],
                    "source": {"detect_fps": 5.0},
                }
            ]
        },
    )

    id: str = Field(
        pattern=CAMERA_ID_PATTERN,
        description="Stable camera id: letters, digits, _ . -, a letter or digit first.",
    )
    name: str = Field("", max_length=200, description="Human-readable name.")
    url: str = Field(min_length=1, max_length=URL_MAX, description=_URL)
    mode: ProcessingMode = Field(DEFAULT_MODE, description="The mode asked for; policy decides what holds.")
    location: tuple[float, float] | None = Field(None, description="[latitude, longitude] in degrees.")
    source: SourceSettings = Field(default_factory=SourceSettings, description="Source settings.")


class CameraUpdate(BaseModel):
    """What to change of a camera record: the fields given, the others kept; `location: null`
    takes it off the map; `source` changes the source settings it names."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"version": 2, "mode": "watchlist", "source": {"detect_fps": 4}}]},
    )

    version: int | None = Field(
        None,
        ge=1,
        le=2**31,
        description="The version this change was made against: refused (409) if it changed since.",
    )
    name: str | None = Field(None, max_length=200)
    url: str | None = Field(None, min_length=1, max_length=URL_MAX, description=_URL)
    mode: ProcessingMode | None = None
    location: tuple[float, float] | None = Field(None, description="[latitude, longitude]; null: none.")
    source: dict[str, bool | int | float] | None = Field(
        None, description="Source settings to change (`detect_fps`, `replay`, …), the others kept."
    )

    def change(self) -> CameraChange:
        given: set[str] = self.model_fields_set
        source: dict[str, Any] | None = self.source
        return CameraChange(
            name=self.name,
            url=self.url,
            mode=self.mode,
            location=self.location,
            clear_location="location" in given and self.location is None,
            source=source,
        )


class CameraRemoved(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "gate-2", "version": 3, "footage_kept": True}]}
    )

    id: str
    version: int = Field(description="The version it was removed at.")
    footage_kept: bool = Field(
        description="Footage of it is still kept: it stays until its retention ends (or its "
        "holds are released), found by the camera's id."
    )
