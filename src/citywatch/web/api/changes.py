"""Change routes: what waits for a second person (new persons and reference images, moves
onto another watchlist, looser thresholds and margins), approved or refused through the
changes' service, which applies the two-person rule and audits each decision (a refusal of the
rule is audited too and surfaces as 403; a change no longer pending as 409)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from citywatch.domain.access import Permission
from citywatch.domain.records import ChangeKind, ChangeStatus
from citywatch.domain.values import page_of
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import NEXT_BEFORE_ID, PAGE_DEFAULT, BeforeId, Limit
from citywatch.web.api.schemas.common import SIGNED_IN, problems

ChangeId = Annotated[int, Path(ge=1, description="The change's id.")]


class ChangePublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "kind": "person.add",
                    "object": "person:3",
                    "params": {"watchlist": "wanted", "reference_ids": [11]},
                    "status": "pending",
                    "proposed_by": "sam",
                    "proposed_role": "supervisor",
                    "proposed_by_service": False,
                    "created_at": "2026-11-27T09:00:00Z",
                    "decided_by": None,
                    "decided_at": None,
                    "note": "",
                }
            ]
        },
    )

    id: int
    kind: ChangeKind
    object: str = Field(description="What it changes, e.g. `person:12`, `watchlist:3`.")
    params: dict[str, Any] = Field(description="What the change does; never biometric data.")
    status: ChangeStatus
    proposed_by: str
    proposed_role: str
    proposed_by_service: bool
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str = Field(description="Why it was refused, when it was.")


class ChangeList(BaseModel):
    items: list[ChangePublic] = Field(description="Newest first.")
    next_before_id: int | None = Field(description=NEXT_BEFORE_ID)


class ChangeRefusal(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "wrong person"}]})

    reason: str = Field("", max_length=1000, description="Why; kept with the change and in the audit log.")


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    changes: list[str | Enum] = ["changes"]
    app.add_api_route(
        "/api/changes", list_changes, methods=["GET"], tags=changes, responses=problems(*SIGNED_IN)
    )
    for verb, decide in (("approve", approve), ("refuse", refuse)):
        app.add_api_route(
            f"/api/changes/{{change_id}}/{verb}",
            decide,
            methods=["POST"],
            tags=changes,
            responses=problems(*SIGNED_IN, 404, 409),
        )


def list_changes(
    request: Request,
    _: Annotated[Caller, requires(Permission.WATCHLISTS_READ)],
    *,
    status: Annotated[
        ChangeStatus | None, Query(description="Only changes in this state (default: every state).")
    ] = None,
    limit: Limit = PAGE_DEFAULT,
    before_id: BeforeId = None,
) -> ChangeList:
    """Changes and where each stands, newest first (`status=pending`: what waits for you)."""
    rows, next_before = page_of(
        runtime_of(request).changes.list_changes(status), lambda c: c.id, limit=limit, before_id=before_id
    )
    return ChangeList(items=[ChangePublic.model_validate(c) for c in rows], next_before_id=next_before)


def approve(
    request: Request, caller: Annotated[Caller, requires(Permission.CHANGES_APPROVE)], change_id: ChangeId
) -> ChangePublic:
    """Approve and apply a pending change: a second person, not the one who proposed it (403
    otherwise, audited), and never a service token."""
    return ChangePublic.model_validate(runtime_of(request).changes.approve(change_id, caller.actor))


def refuse(
    request: Request,
    caller: Annotated[Caller, requires(Permission.WATCHLISTS_MANAGE)],
    change_id: ChangeId,
    body: Annotated[ChangeRefusal | None, Body()] = None,
) -> ChangePublic:
    """Refuse a pending change (needs changes.approve as well), or withdraw one you proposed.
    A refused person or set of reference images is erased with its templates."""
    reason = (body or ChangeRefusal()).reason
    return ChangePublic.model_validate(runtime_of(request).changes.refuse(change_id, caller.actor, reason))
