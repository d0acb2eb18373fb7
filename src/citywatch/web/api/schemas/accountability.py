"""Holds, receipts, the audit log and its verdict, and the transparency report, as the API
takes and gives them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from citywatch.domain.audit import Action
from citywatch.retention.hold_records import HoldInfo


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sighting", "alert", "recording"]
    id: int = Field(ge=1)


class HoldCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reference": "case:2026-0412",
                    "reason": "evidence in an assault investigation",
                    "cameras": ["gate-1"],
                    "starts_at": "2026-11-27T08:00:00Z",
                    "ends_at": "2026-11-27T09:00:00Z",
                    "items": [{"kind": "sighting", "id": 12}],
                }
            ]
        },
    )

    reference: str = Field(min_length=1, max_length=200, description="The case or request it serves.")
    reason: str = Field(min_length=1, max_length=1000, description="Why the data must be kept.")
    requester: str = Field("", max_length=200, description="Who asked for it (default: the caller).")
    cameras: list[str] = Field(default_factory=list, max_length=200)
    starts_at: AwareDatetime | None = Field(None, description="Window start (with cameras).")
    ends_at: AwareDatetime | None = Field(None, description="Window end (with cameras).")
    items: list[Item] = Field(default_factory=list, max_length=10_000, description="Named items.")
    expires_at: AwareDatetime | None = Field(None, description="Until then; default: until released.")


class HoldExtend(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"expires_at": None}]})

    expires_at: AwareDatetime | None = Field(description="The new, later expiry; null: until released.")


class HoldReleaseAsk(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "case closed"}]})

    reason: str = Field(
        min_length=1, max_length=1000, pattern=r"\S", description="Why the hold may go (audited)."
    )


class HoldPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "reference": "case:2026-0412",
                    "reason": "evidence in an assault investigation",
                    "requester": "ian",
                    "cameras": ["gate-1"],
                    "starts_at": "2026-11-27T08:00:00Z",
                    "ends_at": "2026-11-27T09:00:00Z",
                    "items": [{"kind": "sighting", "id": 12}],
                    "expires_at": None,
                    "in_force": True,
                    "placed_by": "ian",
                    "placed_at": "2026-11-27T10:00:00Z",
                    "released_at": None,
                    "released_by": None,
                    "awaiting_change": None,
                }
            ]
        }
    )

    id: int
    reference: str
    reason: str
    requester: str
    cameras: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    items: list[Item]
    expires_at: datetime | None
    in_force: bool
    placed_by: str
    placed_at: datetime
    released_at: datetime | None
    released_by: str | None
    awaiting_change: int | None = Field(
        None,
        description="The pending change a second person must approve (a city-wide or long hold "
        "protects meanwhile, until expires_at); null: none waits.",
    )

    @classmethod
    def of(cls, info: HoldInfo, now: datetime) -> HoldPublic:
        h = info.hold
        return cls(
            id=h.id,
            reference=h.reference,
            reason=info.reason,
            requester=info.requester,
            cameras=sorted(h.cameras),
            starts_at=None if h.window is None else h.window.start,
            ends_at=None if h.window is None else h.window.end,
            items=[Item(kind=k, id=i) for k, i in sorted(h.items)],
            expires_at=h.expires_at,
            in_force=h.in_force(now),
            placed_by=info.created_by,
            placed_at=info.created_at,
            released_at=h.released_at,
            released_by=info.released_by,
            awaiting_change=info.awaiting_change,
        )


class HoldList(BaseModel):
    items: list[HoldPublic]


class ReceiptPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "kind": "purge",
                    "at": "2026-11-27T03:00:00Z",
                    "policy_version": "retention-v1",
                    "counts": {"sightings": 120, "footage": 4},
                    "details": {"sighting_ids": [1, 120]},
                    "audit_seq": 5120,
                }
            ]
        },
    )

    id: int
    kind: str = Field(description="purge, hold_release or authorisation.")
    at: datetime
    policy_version: str
    counts: dict[str, int]
    details: dict[str, Any] = Field(description="Id ranges and hashes: proof of what went, no content.")
    audit_seq: int | None = Field(description="The audit record that carries this receipt.")


class HoldReleasePublic(BaseModel):
    """A release done (`released`, with its receipt) or waiting for a second person
    (`pending`, with the change to approve)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "pending",
                    "receipt": None,
                    "change": 17,
                    "detail": "hold 4 was placed by ian: its release waits for a second person (change 17)",
                }
            ]
        }
    )

    status: Literal["released", "pending"]
    receipt: ReceiptPublic | None
    change: int | None
    detail: str


class ReceiptList(BaseModel):
    items: list[ReceiptPublic]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null: none.")


class AuditRecordPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    object: str
    legal_basis: str
    authorisation: str
    case: str
    params: dict[str, Any]
    result_count: int | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "seq": 812,
                            "at": "2026-11-27T10:02:11Z",
                            "actor": "sam",
                            "role": "supervisor",
                            "action": Action.AUTHORISATION_APPROVE.value,
                            "object": "authorisation:W-2026-114",
                            "legal_basis": "Police Act s.12",
                            "authorisation": "W-2026-114",
                            "case": "",
                            "params": {"cameras": ["gate-1"]},
                            "result_count": None,
                            "prev_hash": "9f2c…",
                            "hash": "41aa…",
                        }
                    ],
                    "next_before": 812,
                }
            ]
        }
    )

    items: list[AuditRecordPublic]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null: none.")


class AuditWitnessPublic(BaseModel):
    path: str = Field(description="The witness file compared with.")
    present: bool
    heads: int = Field(description="Its lines whose signature verified.")
    last_seq: int | None = Field(description="The newest record a signed head names.")
    last_hash: str | None
    last_at: str | None = Field(description="When that head was signed.")
    unreadable: int = Field(description="Lines that are not signed heads (ignored, noted).")


class AuditVerdict(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ok": True,
                    "records": 812,
                    "first_bad_seq": None,
                    "reason": "",
                    "anchor_seq": None,
                    "first_seq": 1,
                    "last_seq": 812,
                    "checkpoints": 8,
                    "witness": {
                        "path": "/var/lib/citywatch/audit-witness.jsonl",
                        "present": True,
                        "heads": 790,
                        "last_seq": 812,
                        "last_hash": "9f2c…",
                        "last_at": "2026-11-27T08:00:00+00:00",
                        "unreadable": 0,
                    },
                    "problems": [],
                    "notes": [],
                    "compared": ["records 1–812 (812), chain and hashes", "…"],
                }
            ]
        }
    )

    ok: bool
    records: int
    first_bad_seq: int | None = Field(description="Where the first problem starts.")
    reason: str
    anchor_seq: int | None = Field(description="The signed anchor the chain starts from after a prune.")
    first_seq: int | None = Field(description="The first stored record compared.")
    last_seq: int | None = Field(description="The last stored record compared.")
    checkpoints: int = Field(description="Signed checkpoints compared (those after the anchor).")
    witness: AuditWitnessPublic | None = Field(
        description="The witness compared with (None: none configured)."
    )
    problems: list[str] = Field(description="Every problem found, the first one in `reason`.")
    notes: list[str] = Field(description="What is worth knowing but breaks nothing.")
    compared: list[str] = Field(description="What was compared, in words.")


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ReceiptKindSummaryPublic(_FromAttributes):
    kind: str
    receipts: int
    items: dict[str, int]


class HoldSummaryPublic(_FromAttributes):
    in_force: int
    by_reference: dict[str, int]


class RequestCountPublic(_FromAttributes):
    kind: str
    status: str
    count: int


class CameraSummaryPublic(_FromAttributes):
    configured: int
    identifying: int
    by_mode: dict[str, int]


class LegalBasisSummaryPublic(_FromAttributes):
    legal_basis: str
    authorisations: int
    cameras: int


class AuthorisationSummaryPublic(_FromAttributes):
    in_force: int
    urgent_unapproved: int
    by_legal_basis: list[LegalBasisSummaryPublic]
    by_size: dict[int, int] = Field(description="Cameras named → authorisations in force naming that many.")


class TransparencyPublic(_FromAttributes):
    """Aggregate counts only: no person, requester, issuer or reference is ever named."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-10-01T00:00:00Z",
                    "until": "2026-11-01T00:00:00Z",
                    "generated_at": "2026-11-01T06:00:00Z",
                    "receipts": 31,
                    "deleted": {"sightings": 120400, "alerts": 310, "footage": 4460},
                    "by_kind": [{"kind": "purge", "receipts": 31, "items": {"sightings": 120400}}],
                    "holds": {"in_force": 2, "by_reference": {"court order": 1, "investigation": 1}},
                    "requests": [{"kind": "subject_access", "status": "closed", "count": 4}],
                    "overdue_requests": 0,
                    "cameras": {
                        "configured": 40,
                        "identifying": 6,
                        "by_mode": {"detect": 34, "watchlist": 6},
                    },
                    "authorisations": {
                        "in_force": 3,
                        "urgent_unapproved": 0,
                        "by_legal_basis": [
                            {"legal_basis": "public safety", "authorisations": 3, "cameras": 6}
                        ],
                        "by_size": {"2": 3},
                    },
                }
            ]
        },
    )

    since: datetime | None
    until: datetime
    generated_at: datetime
    receipts: int
    deleted: dict[str, int]
    by_kind: list[ReceiptKindSummaryPublic]
    holds: HoldSummaryPublic
    requests: list[RequestCountPublic]
    overdue_requests: int
    cameras: CameraSummaryPublic
    authorisations: AuthorisationSummaryPublic
