"""Cameras and how their sources are opened, read, sampled and reconnected."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from citywatch.config.base import Section


class ProcessingMode(StrEnum):
    """What may be done with a camera's faces (see DESIGN.md, glossary)."""

    WATCHLIST = "watchlist"
    INVESTIGATE = "investigate"


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


CameraId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class CameraSettings(Section):
    id: CameraId = Field(description="Stable camera id (letters, digits, _ . -).")
    name: str = Field("", max_length=200, description="Human-readable name.")
    url: str = Field(min_length=1, description="Video file, image folder, or rtsp:// / http(s):// stream.")
    mode: ProcessingMode = Field(
        ProcessingMode.WATCHLIST,
        description="watchlist: keep only faces that match a watchlist; "
        "investigate: keep every sighting with its template for case search.",
    )
    source: SourceSettings = Field(default_factory=SourceSettings)
