"""How matches become alerts: one alert per person per camera episode."""

from __future__ import annotations

from pydantic import Field

from citywatch.config.base import Section


class AlertSettings(Section):
    cooldown_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="A further match of a person on a camera within this many seconds of their "
        "last alert there is stored as a sighting but raises no new alert (0: every match alerts). "
        "An alert dismissed as a false match starts no cooldown.",
    )
