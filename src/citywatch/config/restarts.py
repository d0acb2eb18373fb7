"""How `citywatch run` restarts what dies: camera workers and its background services."""

from __future__ import annotations

from pydantic import Field, model_validator

from citywatch.config.base import Section


class RestartSettings(Section):
    budget: int = Field(
        5,
        ge=0,
        le=1000,
        description="Restarts a camera worker or service may use within `window_s`; one more "
        "death and it is marked failed (0: never restarted).",
    )
    window_s: float = Field(
        600.0, gt=0, le=86_400, description="The window the restart budget counts over, in seconds."
    )
    backoff_initial_s: float = Field(
        1.0, gt=0, le=3600, description="Wait before the first restart; doubled for each further one."
    )
    backoff_max_s: float = Field(
        60.0, gt=0, le=3600, description="The longest wait between a death and its restart."
    )

    @model_validator(mode="after")
    def verify_backoff(self) -> RestartSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("restarts.backoff_max_s must not be below backoff_initial_s")
        return self
