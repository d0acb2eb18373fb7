"""The durable outbox: one row per alert and sink, written in the alert's own transaction,
claimed by the dispatcher when due, then delivered, retried with backoff, or dead-lettered."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from citywatch.alerts.delivery.message import ALERT_EVENT, message_of
from citywatch.config.delivery import MqttSinkSettings, SinkSettings
from citywatch.domain.audit import Action, AuditEvent
from citywatch.domain.clock import Clock
from citywatch.domain.errors import Conflict, InvalidInput, NotFound
from citywatch.store.db import Database
from citywatch.store.sighting_tables import Alert, OutboxRow

log = logging.getLogger(__name__)

AuditHook = Callable[[Session, AuditEvent], None]
MAX_LIST = 10_000
MAX_ERROR_CHARS = 500


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with a bounded number of attempts."""

    max_attempts: int
    initial_s: float
    max_s: float

    def delay_s(self, attempts: int) -> float:
        """The wait after the `attempts`-th failed attempt (1: the first)."""
        return float(min(self.max_s, self.initial_s * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    alert_id: int | None
    sink: str
    topic: str
    body: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @property
    def key(self) -> str:
        """Stable across retries and replays: the webhook-id, the subscribers' de-dup key."""
        return f"citywatch-outbox-{self.id}"


class Outbox:
    """Writes, claims and settles outbox rows; `write` is the alert raising stage's hook (alerts.raising)."""

    def __init__(
        self,
        db: Database,
        sinks: Sequence[SinkSettings],
        *,
        backoff: Backoff,
        clock: Clock,
        base_url: str = "",
        lease_s: float = 120.0,
        audit: AuditHook | None = None,
    ) -> None:
        self._db = db
        self._sinks = list(sinks)
        self._backoff = backoff
        self._clock = clock
        self._base_url = base_url
        self._lease = timedelta(seconds=lease_s)
        self._audit = audit

    @property
    def backoff(self) -> Backoff:
        return self._backoff

    def write(self, session: Session, alert: Alert) -> None:
        """One pending row per configured sink, in the session (transaction) of the alert."""
        if not self._sinks:
            return
        body = message_of(alert, self._base_url).to_json()
        now = self._clock()
        for sink in self._sinks:
            session.add(
                OutboxRow(
                    alert_id=alert.id,
                    sink=sink.name,
                    topic=_topic(sink, alert.camera_id),
                    payload=body,
                    status=OutboxStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        session.flush()

    def claim(self, limit: int = 100) -> list[OutboxEntry]:
        """Pending rows that are due, oldest first, leased for a while so that a second
        dispatcher (another process) does not send them at the same time; a crash mid-send
        leaves them due again once the lease ends."""
        now = self._clock()
        with self._db.session() as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.status == OutboxStatus.PENDING.value, OutboxRow.next_attempt_at <= now)
                .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
                .limit(limit)
            ).all()
            for row in rows:
                row.next_attempt_at = now + self._lease
            return [_entry(row) for row in rows]

    def delivered(self, entry_id: int) -> None:
        with self._db.session() as session:
            row = _require(session, entry_id)
            row.attempts += 1
            row.status = OutboxStatus.DELIVERED.value
            row.delivered_at = self._clock()
            row.last_error = None

    def failed(self, entry_id: int, error: str) -> OutboxEntry:
        """Count a failed attempt: due again after the backoff, or dead after the last one."""
        now = self._clock()
        with self._db.session() as session:
            row = _require(session, entry_id)
            row.attempts += 1
            row.last_error = error[:MAX_ERROR_CHARS]
            if row.attempts >= self._backoff.max_attempts:
                row.status = OutboxStatus.DEAD.value
                row.next_attempt_at = now
            else:
                row.next_attempt_at = now + timedelta(seconds=self._backoff.delay_s(row.attempts))
            return _entry(row)

    def defer(self, entry_ids: Sequence[int], wait_s: float) -> None:
        """Put claimed rows back, due in `wait_s`, without counting an attempt (their sink
        just failed on another row)."""
        if not entry_ids:
            return
        until = self._clock() + timedelta(seconds=wait_s)
        with self._db.session() as session:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(entry_ids), OutboxRow.status == OutboxStatus.PENDING.value)
                .values(next_attempt_at=until)
            )

    def entries(self, status: OutboxStatus | None = None, limit: int = 100) -> list[OutboxEntry]:
        """The newest rows first (of `status`, when given)."""
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIST}")
        query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
        if status is not None:
            query = query.where(OutboxRow.status == status.value)
        with self._db.session(write=False) as session:
            return [_entry(row) for row in session.scalars(query)]

    def counts(self) -> dict[OutboxStatus, int]:
        with self._db.session(write=False) as session:
            rows = session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all()
        found = {str(status): int(n) for status, n in rows}
        return {s: found.get(s.value, 0) for s in OutboxStatus}

    def replay(self, entry_ids: Sequence[int] | None) -> list[int]:
        """Dead rows back to pending with a fresh count of attempts (`None`: every dead row);
        audited. A row that is not dead is refused (Conflict): a pending one will be sent
        anyway, a delivered one arrived."""
        now = self._clock()
        with self._db.session() as session:
            if entry_ids is None:
                rows = list(
                    session.scalars(
                        select(OutboxRow)
                        .where(OutboxRow.status == OutboxStatus.DEAD.value)
                        .order_by(OutboxRow.id)
                    )
                )
            else:
                rows = [_require(session, i) for i in entry_ids]
                not_dead = [f"#{r.id} is {r.status}" for r in rows if r.status != OutboxStatus.DEAD.value]
                if not_dead:
                    raise Conflict(f"only dead outbox rows can be replayed: {', '.join(not_dead)}")
            for row in rows:
                row.status = OutboxStatus.PENDING.value
                row.attempts = 0
                row.next_attempt_at = now
            ids = [row.id for row in rows]
            if ids and self._audit is not None:
                self._audit(
                    session,
                    AuditEvent(
                        Action.OUTBOX_REPLAY,
                        "outbox:" + ("dead" if entry_ids is None else ",".join(map(str, ids))),
                        params={
                            "ids": ids,
                            "sinks": sorted({r.sink for r in rows}),
                            "alerts": sorted({r.alert_id for r in rows if r.alert_id is not None}),
                        },
                        result_count=len(ids),
                    ),
                )
        if ids:
            log.info("outbox: %d dead message(s) back to pending", len(ids))
        return ids


def _topic(sink: SinkSettings, camera_id: str) -> str:
    """Where the message goes within its sink: the camera's MQTT topic (the sink also sends
    it to <prefix>/alerts), or the webhook's event type."""
    if isinstance(sink, MqttSinkSettings):
        return f"{sink.topic_prefix}/{camera_id}/alerts"
    return ALERT_EVENT


def _require(session: Session, entry_id: int) -> OutboxRow:
    row = session.get(OutboxRow, entry_id)
    if row is None:
        raise NotFound(f"no outbox row #{entry_id}")
    return row


def _entry(row: OutboxRow) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        alert_id=row.alert_id,
        sink=row.sink,
        topic=row.topic,
        body=row.payload,
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )
