"""Aggregate counts for the transparency report, computed by the database: receipts summed per
kind and data class, requests per kind and status, holds in force per kind of reference.

Read-only, and counts only: no query here returns a name, a reference or an id.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from citywatch.store.db import Database
from citywatch.store.retention_tables import HoldRow, ReceiptRow, RequestRow

REQUEST_HOLD_PREFIX = "request:"
"""How the hold a request places names it (requests.service); any other reference is a case."""


def receipt_totals(
    db: Database, since: datetime | None, until: datetime
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Receipts written in [since, until): how many per kind, and the sum of their counts per
    (kind, data class). On SQLite the sums come from one `json_each` aggregation."""
    period = _period(ReceiptRow.at, since, until)
    with db.session(write=False) as session:
        receipts = {
            kind: int(n)
            for kind, n in session.execute(
                select(ReceiptRow.kind, func.count(ReceiptRow.id)).where(period).group_by(ReceiptRow.kind)
            )
        }
        if not receipts:
            return {}, {}
        if db.engine.dialect.name == "sqlite":
            each = func.json_each(ReceiptRow.counts).table_valued("key", "value")
            rows = session.execute(
                select(ReceiptRow.kind, each.c.key, func.sum(each.c.value))
                .select_from(ReceiptRow)
                .join(each, true())
                .where(period)
                .group_by(ReceiptRow.kind, each.c.key)
            )
            items = {(str(kind), str(cls)): int(total or 0) for kind, cls, total in rows}
        else:  # elsewhere, stream the counts column alone
            summed: Counter[tuple[str, str]] = Counter()
            query = select(ReceiptRow.kind, ReceiptRow.counts).where(period)
            for kind, counts in session.execute(query.execution_options(yield_per=1000)):
                for cls, n in json.loads(counts).items():
                    summed[(kind, cls)] += int(n)
            items = dict(summed)
    return receipts, items


def request_counts(db: Database, since: datetime | None, until: datetime) -> dict[tuple[str, str], int]:
    """Requests filed in [since, until), per (kind, current status)."""
    with db.session(write=False) as session:
        rows = session.execute(
            select(RequestRow.kind, RequestRow.status, func.count(RequestRow.id))
            .where(_period(RequestRow.created_at, since, until))
            .group_by(RequestRow.kind, RequestRow.status)
        )
        return {(kind, status): int(n) for kind, status, n in rows}


def overdue_requests(db: Database, now: datetime, open_statuses: tuple[str, ...]) -> int:
    """Requests still in one of `open_statuses` whose deadline has passed."""
    with db.session(write=False) as session:
        n = session.scalar(
            select(func.count(RequestRow.id)).where(
                RequestRow.status.in_(open_statuses), RequestRow.deadline < now
            )
        )
        return int(n or 0)


def holds_in_force(db: Database, now: datetime) -> dict[str, int]:
    """Holds in force at `now` (not released, not expired) per kind of reference:
    `request` (placed by a request) or `case`."""
    kind = case((HoldRow.reference.startswith(REQUEST_HOLD_PREFIX), "request"), else_="case")
    with db.session(write=False) as session:
        rows = session.execute(
            select(kind, func.count(HoldRow.id))
            .where(
                HoldRow.released_at.is_(None),
                or_(HoldRow.expires_at.is_(None), HoldRow.expires_at > now),
            )
            .group_by(kind)
        )
        return {str(k): int(n) for k, n in rows}


def _period(
    column: InstrumentedAttribute[datetime], since: datetime | None, until: datetime
) -> ColumnElement[bool]:
    return and_(column < until, true() if since is None else column >= since)
