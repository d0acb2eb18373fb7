"""Cameras and how their sources are opened, read, sampled and reconnected."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from citywatch.config.base import Section
from citywatch.domain.policy import DEFAULT_MODE, GeoPoint, ProcessingMode

__all__ = ["CAMERA_ID_PATTERN", "CameraSettings", "ProcessingMode", "SourceSettings"]


class SourceSettings(Section):
    detect_fps: float = Field(
        8.0, gt=0, le=60, description="Frames per second handed to detection; others are skipped."
    )
    open_timeout_s: float = Field(10.0, gt=0, le=300, description="Give up opening a stream after this long.")
    read_timeout_s: float = Field(
        10.0, gt=0, le=300, description="A stream that delivers no packet for this long is stalled."
    )
    reconnect_initial_s: float = Field(1.0, gt=0, le=60, description="First wait before reconnecting.")
    reconnect_max_s: float = Field(30.0, gt=0, le=3600, description="Longest wait between reconnects.")
    replay: bool = Field(
        False,
        description="Play a video file at its own frame rate and loop it, as a live camera "
        "(demos, soak tests, load benchmarks); frames are dropped when processing falls behind.",
    )
    reconnect_attempts: int = Field(
        5, ge=0, le=1_000_000, description="Reconnects before a stream is declared dead; 0 = forever."
    )

    @model_validator(mode="after")
    def verify_backoff(self) -> SourceSettings:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be at least reconnect_initial_s")
        return self


CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""A camera id: letters, digits, `_ . -`, starting with a letter or digit, so that no id is `.`,
`..` or a hidden name where it names a folder (footage, crops)."""
CameraId = Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]


class CameraSettings(Section):
    id: CameraId = Field(description="Stable camera id (letters, digits, _ . -; a letter or digit first).")
    name: str = Field("", max_length=200, description="Human-readable name.")
    url: str = Field(min_length=1, description="Video file, image folder, or rtsp:// / http(s):// stream.")
    mode: ProcessingMode = Field(
        DEFAULT_MODE,
        description="Mode asked for: off, record (footage only), detect (count and blur faces), "
        "watchlist (live matching; unmatched faces dropped), investigate (every sighting kept with "
        "its template for case search). Policy rules, protected zones and events and the "
        "authorisations on record decide what actually holds (`citywatch policy show`).",
    )
    location: tuple[float, float] | None = Field(
        None, description="[latitude, longitude] in degrees: places the camera in zones."
    )
    source: SourceSettings = Field(default_factory=SourceSettings)

    @model_validator(mode="after")
    def verify_location(self) -> CameraSettings:
        if self.location is not None:
            lat, lon = self.location
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"location {list(self.location)} is not a [latitude, longitude] pair")
        return self

    @property
    def geo(self) -> GeoPoint | None:
        return None if self.location is None else GeoPoint(*self.location)
