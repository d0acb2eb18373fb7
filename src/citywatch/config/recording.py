"""How cameras record their footage: fixed-length MP4 segments, stream-copied."""

from __future__ import annotations

from pydantic import Field

from citywatch.config.base import Section


class RecordingSettings(Section):
    enabled: bool = Field(
        True,
        description="Record the video of every camera whose mode is not `off` (footage only; "
        "audio is never recorded).",
    )
    segment_s: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="Length of one footage file, in seconds. The packets are copied, not re-encoded, "
        "so a segment ends at the first keyframe from this length on (and at UTC midnight).",
    )
