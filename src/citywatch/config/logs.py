"""How citywatch writes its log: text for people at a terminal, JSON lines for collectors."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from citywatch.config.base import Section


class LoggingSettings(Section):
    format: Literal["text", "json"] = Field(
        "text",
        description="`text`: readable lines on stderr. `json`: one JSON object per line on stderr "
        "(time, level, logger, message and fields such as an API request's method, route, status "
        "and duration_ms), for a log collector. Logs never hold tokens, cookies or face data.",
    )
