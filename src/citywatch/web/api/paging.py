"""Cursor pagination for the lists that their stores hand over whole (orders, users, tokens,
changes, footage segments): newest first, `before_id` in, `next_before_id` out, as the
alert and sighting lists page in SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, TypeVar

from fastapi import Query

from citywatch.web.api.schemas.common import PAGE_DEFAULT, PAGE_MAX

T = TypeVar("T")

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

__all__ = ["NEXT_BEFORE_ID", "PAGE_DEFAULT", "BeforeId", "Limit", "page_of"]


def page_of(
    items: Iterable[T], id_of: Callable[[T], int], *, limit: int, before_id: int | None
) -> tuple[list[T], int | None]:
    """One page of `items` by descending id below `before_id`, and the next page's cursor
    (None on the last page)."""
    ordered = sorted((i for i in items if before_id is None or id_of(i) < before_id), key=id_of, reverse=True)
    page = ordered[:limit]
    return page, (id_of(page[-1]) if len(ordered) > limit else None)
