"""Cursor pagination's query parameters: newest first, `before_id` in, `next_before_id` out
(`domain.values.page_of` pages the lists their stores hand over whole; alerts and sightings
page in SQL)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from citywatch.web.api.schemas.common import PAGE_DEFAULT, PAGE_MAX

Limit = Annotated[
    int, Query(ge=1, le=PAGE_MAX, description="Items on this page (in the order the route says).")
]
BeforeId = Annotated[
    int | None,
    Query(
        ge=1,
        description="Cursor: only items with an id below this one (the previous page's `next_before_id`).",
    ),
]
NEXT_BEFORE_ID = "Pass as `before_id` for the next page; null on the last."

__all__ = ["NEXT_BEFORE_ID", "PAGE_DEFAULT", "BeforeId", "Limit"]
