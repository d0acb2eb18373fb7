"""The facts the two-person rule's independence check judges (citywatch.audit.two_person):
what was done to an account, by whom and when, read from the audit log (the one record of
who did what) and the users table. Reads only, inside the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from citywatch.audit.two_person import (
    ACCOUNT_ACTIONS,
    AccountEvent,
    AccountHistory,
    Credential,
    Owner,
    owed_to,
)
from citywatch.domain.audit import Action
from citywatch.store.audit_tables import AuditRecord
from citywatch.store.governance_tables import ApiTokenRow, UserRow

DEFAULT_INDEPENDENCE = timedelta(days=30)
"""`policy.independence_days`' default."""

_ON_ACCOUNT = tuple(a for a in ACCOUNT_ACTIONS if a != Action.TOKEN_ISSUE)
_PASSWORD_ACTIONS = (Action.USER_ADD, Action.USER_PASSWORD)
_ISSUE_ACTIONS = (Action.TOKEN_ISSUE, Action.SESSION_OPEN)


def account_history(session: Session, user: str, since: datetime, now: datetime) -> AccountHistory:
    """What was done to `user`'s account from `since` on, who set its current password, its
    personal tokens and sessions with who had set the password each was issued under, and
    everyone it owes itself to through other accounts (`owners`).

    A token's record names its owner in its parameters (its object is the token), so every
    `token.issue` of the window is read and the personal ones to `user` kept. Who set the
    password is the latest `user.add` or `user.password` record for the account, however old;
    when retention has pruned it, the account's creator is assumed (the stricter guess)."""
    history = _direct_history(session, user, since, now)
    return replace(history, owners=owners(session, user, since, now, history))


def owners(
    session: Session, user: str, since: datetime, now: datetime, history: AccountHistory | None = None
) -> tuple[Owner, ...]:
    """Everyone `user`'s account owes itself to (two_person.owed_to), and everyone those
    accounts owe theirs to, and so on: an account made by an account the first person made
    owes itself to the first person too. Each with the chain of facts, nearest first."""
    found: dict[str, Owner] = {}
    queue: list[tuple[AccountHistory, str]] = [(history or _direct_history(session, user, since, now), "")]
    seen = {user.strip().casefold()}
    while queue:
        current, via = queue.pop(0)
        for owner in owed_to(current):
            key = owner.person.strip().casefold()
            if key in seen:
                continue
            seen.add(key)
            chained = Owner(owner.person, f"{via}; {owner.why}" if via else owner.why)
            found[key] = chained
            queue.append((_direct_history(session, owner.person, since, now), chained.why))
    return tuple(found.values())


def _direct_history(session: Session, user: str, since: datetime, now: datetime) -> AccountHistory:
    obj = f"user:{user}"
    # ISO 8601 strings in UTC order as times do; a day's slack for their varying precision,
    # the exact cut is the policy's
    floor = (since.astimezone(UTC) - timedelta(days=1)).isoformat()
    rows = session.execute(
        select(AuditRecord.action, AuditRecord.actor, AuditRecord.at, AuditRecord.object, AuditRecord.params)
        .where(AuditRecord.at >= floor)
        .where(
            or_(
                (AuditRecord.object == obj) & AuditRecord.action.in_(_ON_ACCOUNT),
                AuditRecord.action == Action.TOKEN_ISSUE,
            )
        )
        .order_by(AuditRecord.seq)
    ).all()
    events = tuple(
        AccountEvent(action, actor, datetime.fromisoformat(at))
        for action, actor, at, target, params in rows
        if target == obj or _personal_token_for(params, user)
    )
    return AccountHistory(
        user, since, events, _password_set_by(session, user), _credentials(session, user, now)
    )


def _credentials(session: Session, user: str, now: datetime) -> tuple[Credential, ...]:
    """`user`'s personal tokens and sessions (service tokens can never be one of the two
    people), each with who had set the password in force when it was issued: the latest
    `user.add`/`user.password` record before the token's own issue record (by sequence; by
    time where retention pruned that record; the creator where it pruned them all)."""
    owner = session.scalars(select(UserRow).where(UserRow.name == user)).one_or_none()
    if owner is None:
        return ()
    tokens = session.scalars(
        select(ApiTokenRow).where(ApiTokenRow.user_id == owner.id, ApiTokenRow.service.is_(False))
    ).all()
    if not tokens:
        return ()
    issued = {
        obj: seq
        for obj, seq in session.execute(
            select(AuditRecord.object, AuditRecord.seq).where(
                AuditRecord.object.in_([f"token:{t.id}" for t in tokens]),
                AuditRecord.action.in_(_ISSUE_ACTIONS),
            )
        )
    }
    passwords = [
        (seq, datetime.fromisoformat(at), None if _removed(params) else actor)
        for seq, at, actor, params in session.execute(
            select(AuditRecord.seq, AuditRecord.at, AuditRecord.actor, AuditRecord.params)
            .where(AuditRecord.object == f"user:{user}", AuditRecord.action.in_(_PASSWORD_ACTIONS))
            .order_by(AuditRecord.seq)
        )
    ]
    found: list[Credential] = []
    for t in tokens:
        seq = issued.get(f"token:{t.id}")
        before = [p for p in passwords if (p[0] < seq if seq is not None else p[1] <= t.created_at)]
        by = before[-1][2] if before else owner.created_by
        ended = t.revoked_at if t.revoked_at is not None else t.expires_at
        live = t.revoked_at is None and (t.expires_at is None or t.expires_at > now)
        found.append(Credential(t.id, t.created_at, ended, live, by, session=t.expires_at is not None))
    return tuple(found)


def _removed(params: str) -> bool:
    """A `user.password` record that took the password away (the account signs in with tokens only)."""
    try:
        decoded = json.loads(params)
    except ValueError:
        return False
    return isinstance(decoded, dict) and decoded.get("password") is False


def _personal_token_for(params: str, user: str) -> bool:
    try:
        decoded = json.loads(params)
    except ValueError:
        return False
    return isinstance(decoded, dict) and decoded.get("user") == user and not decoded.get("service", False)


def _password_set_by(session: Session, user: str) -> str | None:
    row = session.scalars(select(UserRow).where(UserRow.name == user)).one_or_none()
    if row is None or row.password_hash is None:
        return None
    latest = session.execute(
        select(AuditRecord.actor)
        .where(AuditRecord.object == f"user:{user}", AuditRecord.action.in_(_PASSWORD_ACTIONS))
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    return row.created_by if latest is None else latest


__all__ = ["DEFAULT_INDEPENDENCE", "account_history", "owners"]
