"""The transparency report: what was deleted (summed from the deletion receipts), what is held,
which requests were filed, where identification is on and under which authorisations.

Aggregate counts only: no person, requester, issuer or reference is ever named. Public data,
free of any front end: the CLI prints it, a web page can render it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from citywatch.config.ingest import CameraSettings
from citywatch.domain.clock import utc_now
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import (
    AuthorisationStatus,
    CameraPlace,
    PolicySnapshot,
    ProcessingMode,
    mode_for,
)
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.domain.retention import DataClass
from citywatch.governance.policy import PolicyService
from citywatch.store.db import Database
from citywatch.transparency import tally

DELETING_KINDS = ("purge", "authorisation")
"""Receipt kinds that delete. A hold release deletes nothing: its receipt counts what became
eligible, which a later purge deletes (and counts) in its turn."""
RECEIPT_KINDS = ("purge", "hold_release", "authorisation")
OPEN_REQUEST_STATUSES = (RequestStatus.FILED, RequestStatus.IN_REVIEW)
"""Waiting for a decision: overdue once their deadline passes."""


@dataclass(frozen=True, slots=True)
class ReceiptKindSummary:
    kind: str
    """`purge`, `hold_release` or `authorisation`."""
    receipts: int
    items: Mapping[str, int]
    """Per data class: deleted (purge, authorisation) or made eligible (hold_release)."""


@dataclass(frozen=True, slots=True)
class HoldSummary:
    in_force: int
    by_reference: Mapping[str, int]
    """`request` or `case` → holds in force."""


@dataclass(frozen=True, slots=True)
class RequestCount:
    kind: str
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class CameraSummary:
    configured: int
    identifying: int
    """In a mode that identifies (watchlist, investigate) under an authorisation in force."""
    by_mode: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class LegalBasisSummary:
    legal_basis: str
    authorisations: int
    cameras: int
    """Distinct cameras they name."""


@dataclass(frozen=True, slots=True)
class AuthorisationSummary:
    in_force: int
    urgent_unapproved: int
    """In force on the urgent procedure, not approved yet."""
    by_legal_basis: tuple[LegalBasisSummary, ...]
    by_size: Mapping[int, int]
    """Number of cameras named → authorisations in force naming that many."""


@dataclass(frozen=True, slots=True)
class TransparencyReport:
    since: datetime | None
    """Start of the period (None: since the first record)."""
    until: datetime
    generated_at: datetime
    receipts: int
    deleted: Mapping[str, int]
    """Per data class, deleted in the period by purges and ended authorisations."""
    by_kind: tuple[ReceiptKindSummary, ...]
    holds: HoldSummary
    requests: tuple[RequestCount, ...]
    """Filed in the period, per kind and current status."""
    overdue_requests: int
    """Waiting for a decision past their deadline, now."""
    cameras: CameraSummary
    authorisations: AuthorisationSummary


def transparency_report(
    database: Database,
    policy: PolicyService,
    cameras: Sequence[CameraSettings],
    since: datetime | None = None,
    until: datetime | None = None,
) -> TransparencyReport:
    """Deletions, requests and receipts over [since, until) (until: now), summed from
    `database`; holds, the configured `cameras` (their modes under `policy`) and
    authorisations as they stand now."""
    for what, value in (("since", since), ("until", until)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise InvalidInput(f"{what} must be a timezone-aware time, got {value.isoformat()}")
    # First: loading the policy closes any authorisation that has ended, with its receipt,
    # which the sums below then include.
    snapshot = policy.snapshot()
    now = utc_now()
    end = now if until is None else until
    if since is not None and since >= end:
        raise InvalidInput(f"the period ends ({end.isoformat()}) before it starts ({since.isoformat()})")
    receipts, items = tally.receipt_totals(database, since, end)
    return TransparencyReport(
        since=since,
        until=end,
        generated_at=now,
        receipts=sum(receipts.values()),
        deleted=_deleted(items),
        by_kind=_by_kind(receipts, items),
        holds=_holds(tally.holds_in_force(database, now)),
        requests=_requests(tally.request_counts(database, since, end)),
        overdue_requests=tally.overdue_requests(database, now, tuple(s.value for s in OPEN_REQUEST_STATUSES)),
        cameras=_cameras(snapshot, cameras, now),
        authorisations=_authorisations(snapshot, now),
    )


def _classes(items: Mapping[tuple[str, str], int]) -> list[str]:
    known = [c.value for c in DataClass]
    return known + sorted({cls for _k, cls in items} - set(known))


def _deleted(items: Mapping[tuple[str, str], int]) -> dict[str, int]:
    return {cls: sum(items.get((kind, cls), 0) for kind in DELETING_KINDS) for cls in _classes(items)}


def _by_kind(
    receipts: Mapping[str, int], items: Mapping[tuple[str, str], int]
) -> tuple[ReceiptKindSummary, ...]:
    kinds = [*RECEIPT_KINDS, *sorted(set(receipts) - set(RECEIPT_KINDS))]
    return tuple(
        ReceiptKindSummary(
            kind, receipts.get(kind, 0), {cls: items.get((kind, cls), 0) for cls in _classes(items)}
        )
        for kind in kinds
    )


def _holds(by_reference: Mapping[str, int]) -> HoldSummary:
    counts = {"request": 0, "case": 0, **by_reference}
    return HoldSummary(sum(counts.values()), counts)


def _requests(counts: Mapping[tuple[str, str], int]) -> tuple[RequestCount, ...]:
    kinds = [k.value for k in RequestKind]
    statuses = [s.value for s in RequestStatus]

    def order(key: tuple[str, str]) -> tuple[int, int, str, str]:
        kind, status = key
        rank_kind = kinds.index(kind) if kind in kinds else len(kinds)
        rank_status = statuses.index(status) if status in statuses else len(statuses)
        return rank_kind, rank_status, kind, status

    return tuple(RequestCount(k, s, counts[(k, s)]) for k, s in sorted(counts, key=order))


def _cameras(policy: PolicySnapshot, cameras: Sequence[CameraSettings], now: datetime) -> CameraSummary:
    modes = [mode_for(CameraPlace(c.id, c.mode, c.geo), policy, now).mode for c in cameras]
    by_mode = Counter(m.value for m in modes)
    return CameraSummary(
        configured=len(modes),
        identifying=sum(1 for m in modes if m.identifies),
        by_mode={m.value: by_mode.get(m.value, 0) for m in ProcessingMode},
    )


def _authorisations(policy: PolicySnapshot, now: datetime) -> AuthorisationSummary:
    in_force = [a for a in policy.authorisations if a.in_force(now)]
    groups: dict[str, list[frozenset[str]]] = {}
    for a in in_force:
        groups.setdefault(" ".join(a.legal_basis.split()), []).append(a.cameras)
    by_basis = tuple(
        LegalBasisSummary(basis, len(cams), len(frozenset().union(*cams)))
        for basis, cams in sorted(groups.items())
    )
    sizes = Counter(len(a.cameras) for a in in_force)
    return AuthorisationSummary(
        in_force=len(in_force),
        urgent_unapproved=sum(1 for a in in_force if a.status is not AuthorisationStatus.APPROVED),
        by_legal_basis=by_basis,
        by_size=dict(sorted(sizes.items())),
    )
