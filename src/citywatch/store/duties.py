"""The facts the two-person rule's independence check judges (citywatch.audit.two_person):
what was done to an account, by whom and when, read from the audit log (the one record of
who did what) and the users table. Reads only, inside the caller's transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from citywatch.audit.two_person import ACCOUNT_ACTIONS, AccountEvent, AccountHistory
from citywatch.store.tables import AuditRecord, UserRow

DEFAULT_INDEPENDENCE = timedelta(days=30)
"""`policy.independence_days`' default."""

_ON_ACCOUNT = tuple(a for a in ACCOUNT_ACTIONS if a != "token.issue")
_PASSWORD_ACTIONS = ("user.add", "user.password")


def account_history(session: Session, user: str, since: datetime) -> AccountHistory:
    """What was done to `user`'s account from `since` on, and who set its current password.

    A token's record names its owner in its parameters (its object is the token), so every
    `token.issue` of the window is read and the personal ones to `user` kept. Who set the
    password is the latest `user.add` or `user.password` record for the account, however old;
    when retention has pruned it, the account's creator is assumed (the stricter guess)."""
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
                AuditRecord.action == "token.issue",
            )
        )
        .order_by(AuditRecord.seq)
    ).all()
    events = tuple(
        AccountEvent(action, actor, datetime.fromisoformat(at))
        for action, actor, at, target, params in rows
        if target == obj or _personal_token_for(params, user)
    )
    return AccountHistory(user, since, events, _password_set_by(session, user))


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


__all__ = ["DEFAULT_INDEPENDENCE", "account_history"]
