"""UserService: accounts, argon2id passwords, hashed API tokens and sign-in. One transaction
per action with its audit record; plain records out, never ORM objects; never a password or
a token in a record, a log line or a message.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citywatch.audit.hooks import AuditHook
from citywatch.audit.two_person import token_issue_problem
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from citywatch.store.db import Database
from citywatch.store.governance_tables import ApiTokenRow, UserRow
from citywatch.users.records import (
    MAX_PASSWORD,
    NAME_PATTERN,
    IssuedToken,
    TokenInfo,
    TokenRefused,
    UserInfo,
    actor_of,
    check_cameras,
    check_name,
    check_password,
    check_role,
    checked_label,
    password_matches,
    plain_scope,
    scope_of,
    token_digest,
    token_info,
    user_info,
)

log = logging.getLogger(__name__)

TOKEN_PREFIX = "cw_"  # noqa: S105 (a prefix that marks tokens, not a secret)


SignInAuditHook = Callable[[Session, Actor | None, AuditEvent], None]
"""Records a sign-in event as the given actor; None for a failed one (nobody is known yet)."""

SESSION_LABEL = "console session"
LOGIN_FAILED = "sign-in failed: unknown user name or wrong password"
"""The same words whether the name exists or not."""


class UserService:
    """Users, roles, camera scopes, passwords and API tokens."""

    def __init__(
        self,
        db: Database,
        audit: AuditHook | None = None,
        clock: Clock = utc_now,
        *,
        hasher: PasswordHasher | None = None,
        sign_in_audit: SignInAuditHook | None = None,
    ) -> None:
        """`audit` records what the store changes, as whoever acts; `sign_in_audit` records
        sign-ins as the person signing in (or, for a failure, as whoever the hook names)."""
        self._db = db
        self._audit = audit
        self._sign_in_audit = sign_in_audit
        self._clock = clock
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._dummy_hash: str | None = None

    # --- accounts -------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        role: str,
        cameras: Iterable[str] | None = None,
        password: str | None = None,
        *,
        created_by: str = "system",
    ) -> UserInfo:
        name = check_name(name)
        role = check_role(role)
        scope = check_cameras(cameras)
        hashed = None if password is None else self._hasher.hash(check_password(password))
        with self._db.session() as session:
            if _user_by_name(session, name) is not None:
                raise Conflict(f"user {name!r} already exists")
            row = UserRow(
                name=name,
                role=role,
                cameras=None if scope is None else json.dumps(list(scope)),
                password_hash=hashed,
                active=True,
                created_by=created_by,
                created_at=self._now(),
            )
            session.add(row)
            session.flush()
            params = {"role": role, "cameras": plain_scope(scope), "password": hashed is not None}
            self._record(session, AuditEvent(Action.USER_ADD, f"user:{name}", params=params))
            return user_info(row, 0)

    def get_user(self, name: str) -> UserInfo:
        with self._db.session(write=False) as session:
            row = _require_user(session, name)
            return user_info(row, _live_tokens(session, row.id))

    def list_users(self) -> list[UserInfo]:
        with self._db.session(write=False) as session:
            counts = dict(
                session.execute(
                    select(ApiTokenRow.user_id, func.count())
                    .where(ApiTokenRow.revoked_at.is_(None))
                    .group_by(ApiTokenRow.user_id)
                ).all()
            )
            rows = session.scalars(select(UserRow).order_by(UserRow.name)).all()
            return [user_info(row, counts.get(row.id, 0)) for row in rows]

    def set_role(self, name: str, role: str) -> UserInfo:
        role = check_role(role)
        with self._db.session() as session:
            row = _require_user(session, name)
            before, row.role = row.role, role
            session.flush()
            self._record(
                session, AuditEvent(Action.USER_ROLE, f"user:{row.name}", params={"from": before, "to": role})
            )
            return user_info(row, _live_tokens(session, row.id))

    def set_cameras(self, name: str, cameras: Iterable[str] | None) -> UserInfo:
        """Limit the user to `cameras`; None lifts the limit."""
        scope = check_cameras(cameras)
        with self._db.session() as session:
            row = _require_user(session, name)
            before = scope_of(row)
            row.cameras = None if scope is None else json.dumps(list(scope))
            session.flush()
            params = {"from": plain_scope(before), "to": plain_scope(scope)}
            self._record(session, AuditEvent(Action.USER_CAMERAS, f"user:{row.name}", params=params))
            return user_info(row, _live_tokens(session, row.id))

    def set_password(self, name: str, password: str | None) -> UserInfo:
        """A new password; None removes it (the user signs in with tokens only). Every console
        session the old password opened ends with it (a stolen session cookie stops working);
        API tokens, issued on purpose, stay. The record counts the sessions ended: one that
        had already expired is left as it was, neither revoked nor counted."""
        hashed = None if password is None else self._hasher.hash(check_password(password))
        with self._db.session() as session:
            row = _require_user(session, name)
            row.password_hash = hashed
            now = self._now()
            sessions = [
                t
                for t in _live_token_rows(session, row.id)
                if t.expires_at is not None and t.expires_at > now
            ]
            for token in sessions:
                token.revoked_at = now
            session.flush()
            params = {"password": hashed is not None}
            event = AuditEvent(
                Action.USER_PASSWORD, f"user:{row.name}", params=params, result_count=len(sessions)
            )
            self._record(session, event)
            return user_info(row, _live_tokens(session, row.id))

    def change_own_password(self, name: str, current: str, new: str) -> UserInfo:
        """`name` sets their own password, proving who they are with the current one (a wrong
        one is a failed sign-in: same answer, same record, as `login`). Only then is the user
        independent of whoever set the password before (two-person rule, rule (b))."""
        check_password(new)
        self.login(name, current)
        return self.set_password(name, new)

    def deactivate(self, name: str) -> UserInfo:
        """Disable the user for good: password sign-in stops and every token is revoked, console
        sessions included (the record counts them all)."""
        with self._db.session() as session:
            row = _require_user(session, name)
            if not row.active:
                raise Conflict(f"user {row.name!r} is already disabled")
            row.active = False
            now = self._now()
            live = _live_token_rows(session, row.id)
            for token in live:
                token.revoked_at = now
            session.flush()
            self._record(session, AuditEvent(Action.USER_DISABLE, f"user:{row.name}", result_count=len(live)))
            return user_info(row, 0)

    # --- tokens ---------------------------------------------------------------------------

    def issue_token(self, user: str, label: str, service: bool = False, *, by: Actor) -> IssuedToken:
        """A new API token for `user`, issued by `by`; only its SHA-256 is kept, so this is the
        one chance to see it. A personal token goes only to its owner signed in as themselves
        (`by` is `user`), a service token is issued by a holder of users.manage
        (citywatch.audit.two_person.token_issue_problem). Recorded as `by`; a refusal too
        (`token.issue_refused`), then raised as PermissionDenied."""
        label = checked_label(label)
        refusal = None
        with self._db.session() as session:
            owner = _require_user(session, user)
            if problem := token_issue_problem(by, owner.name, service=service):
                params = {"user": owner.name, "label": label, "service": service, "reason": problem}
                event = AuditEvent(Action.TOKEN_ISSUE_REFUSED, f"user:{owner.name}", params=params)
                self._record_sign_in(session, by, event)
                refusal = PermissionDenied(f"no token issued: {problem}")
        if refusal is not None:
            raise refusal  # after the commit: the refusal is on record, nothing else changed
        with self._db.session() as session:
            owner = _require_user(session, user)
            if not owner.active:
                raise Conflict(f"user {owner.name!r} is disabled; no token can be issued to them")
            row, token = self._new_token(session, owner, label, service=service, expires_at=None)
            params = {"user": owner.name, "label": label, "service": service}
            self._record_sign_in(
                session, by, AuditEvent(Action.TOKEN_ISSUE, f"token:{row.id}", params=params)
            )
            return IssuedToken(row.id, owner.name, label, service, token)

    def issue_own_token(self, name: str, password: str, label: str) -> IssuedToken:
        """`name` signs in with their password (audited, as `login`) and issues themselves a
        personal token: the way a script gets a person's token without anyone else holding it."""
        return self.issue_token(name, label, by=self.login(name, password))

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        with self._db.session(write=False) as session:
            query = select(ApiTokenRow, UserRow.name).join(UserRow, UserRow.id == ApiTokenRow.user_id)
            if user is not None:
                query = query.where(ApiTokenRow.user_id == _require_user(session, user).id)
            rows = session.execute(query.order_by(ApiTokenRow.id)).all()
            return [token_info(token, owner) for token, owner in rows]

    def revoke_token(self, token_id: int) -> TokenInfo:
        with self._db.session() as session:
            row = session.get(ApiTokenRow, token_id)
            if row is None:
                raise NotFound(f"no API token with id {token_id}")
            if row.revoked_at is not None:
                raise Conflict(f"API token {token_id} was already revoked")
            row.revoked_at = self._now()
            owner = session.get_one(UserRow, row.user_id)
            session.flush()
            params = {"user": owner.name, "label": row.label}
            self._record(session, AuditEvent(Action.TOKEN_REVOKE, f"token:{row.id}", params=params))
            return token_info(row, owner.name)

    # --- sign-in --------------------------------------------------------------------------

    def open_session(self, name: str, password: str, ttl: timedelta) -> IssuedToken:
        """Sign in by password for a browser: a token that ends after `ttl` (or at sign-out)."""
        actor = self.login(name, password)
        with self._db.session() as session:
            owner = _require_user(session, actor.name)
            expires_at = self._now() + ttl
            row, token = self._new_token(session, owner, SESSION_LABEL, service=False, expires_at=expires_at)
            params = {"user": owner.name, "label": SESSION_LABEL, "ttl_s": int(ttl.total_seconds())}
            self._record_sign_in(
                session, actor, AuditEvent(Action.SESSION_OPEN, f"token:{row.id}", params=params)
            )
            return IssuedToken(row.id, owner.name, SESSION_LABEL, False, token, expires_at)

    def end_session(self, token: str) -> bool:
        """Sign a browser session out: its token stops working. False if it was not a live session."""
        digest = token_digest(token.strip())
        with self._db.session() as session:
            row = session.scalars(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest)).one_or_none()
            if row is None or row.revoked_at is not None or row.expires_at is None:
                return False
            row.revoked_at = self._now()
            owner = session.get_one(UserRow, row.user_id)
            session.flush()
            event = AuditEvent(Action.SESSION_CLOSE, f"token:{row.id}", params={"user": owner.name})
            self._record_sign_in(session, actor_of(owner, service=False), event)
            return True

    def actor_for_token(self, token: str, *, audit_failure: bool = True) -> Actor:
        """Who `token` acts for; an unknown, revoked, expired or disabled user's token is refused
        (PermissionDenied) and audited, unless `audit_failure` is False: a lookup that signs
        nobody in (a public page asking whether a browser is signed in) records nothing, and
        takes no write lock."""
        digest = token_digest(token.strip())
        with self._db.session(write=False) as session:
            row = session.scalars(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest)).one_or_none()
            owner = None if row is None else session.get(UserRow, row.user_id)
            if row is None or owner is None:
                refusal = ("token:?", "unknown", "unknown API token")
            elif row.revoked_at is not None:
                refusal = (f"token:{row.id}", "revoked", f"API token {row.id} ({row.label}) was revoked")
            elif row.expires_at is not None and row.expires_at <= self._now():
                refusal = (f"token:{row.id}", "expired", "the session has expired; sign in again")
            elif not owner.active:
                refusal = (f"token:{row.id}", "user disabled", f"user {owner.name!r} is disabled")
            else:
                return actor_of(owner, service=row.service)
        target, reason, message = refusal
        refused = TokenRefused(f"{message}: not signed in", target=target, reason=reason)
        if audit_failure:
            self.record_refusal(refused)
        raise refused

    def record_refusal(self, refused: TokenRefused) -> None:
        """Audit a token that signed nobody in (`user.login_failed`), as `actor_for_token` does
        unless told not to: for a caller that decides after the lookup whether to record it."""
        with self._db.session() as session:
            params = {"method": "token", "reason": refused.reason}
            self._record_sign_in(
                session, None, AuditEvent(Action.USER_LOGIN_FAILED, refused.target, params=params)
            )

    def login(self, name: str, password: str) -> Actor:
        """Sign in by password. A failure says and records nothing about whether the name exists."""
        valid_name = NAME_PATTERN.fullmatch(name) is not None
        with self._db.session(write=False) as session:
            row = _user_by_name(session, name) if valid_name else None
            user_id, stored = (None, None) if row is None else (row.id, row.password_hash)
        # argon2 is slow on purpose: verify (and rehash) outside the write lock
        verified = self._verify(stored, password)
        rehashed = None
        if verified and stored is not None and self._hasher.check_needs_rehash(stored):
            rehashed = self._hasher.hash(password)
        with self._db.session() as session:
            row = session.get(UserRow, user_id) if verified and user_id is not None else None
            # still active, and the password not changed meanwhile
            if row is not None and row.active and row.password_hash == stored:
                if rehashed is not None:
                    row.password_hash = rehashed
                params = {"method": "password", "role": row.role}
                actor = actor_of(row, service=False)
                self._record_sign_in(
                    session, actor, AuditEvent(Action.USER_LOGIN, f"user:{row.name}", params=params)
                )
                return actor
            target = f"user:{name}" if valid_name else "user:?"
            event = AuditEvent(Action.USER_LOGIN_FAILED, target, params={"method": "password"})
            self._record_sign_in(session, None, event)
        raise PermissionDenied(LOGIN_FAILED)

    # --- internals ------------------------------------------------------------------------

    def _new_token(
        self, session: Session, owner: UserRow, label: str, *, service: bool, expires_at: datetime | None
    ) -> tuple[ApiTokenRow, str]:
        """A new token row for `owner` (only the token's SHA-256 is stored) and the token."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiTokenRow(
            user_id=owner.id,
            token_hash=token_digest(token),
            label=label,
            service=service,
            created_at=self._now(),
            revoked_at=None,
            expires_at=expires_at,
        )
        session.add(row)
        session.flush()
        return row, token

    def _verify(self, stored: str | None, password: str) -> bool:
        if len(password) > MAX_PASSWORD:
            return False
        if stored is None:
            # as slow as a real check, so that timing does not tell which names exist
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            password_matches(self._hasher, self._dummy_hash, password)
            return False
        return password_matches(self._hasher, stored, password)

    def _now(self) -> datetime:
        now = self._clock()
        if now.utcoffset() is None:
            raise InvalidInput(f"the clock gave a naive time ({now.isoformat()}); it must be timezone-aware")
        return now.astimezone(UTC)

    def _record(self, session: Session, event: AuditEvent) -> None:
        if self._audit is not None:
            self._audit(session, event)

    def _record_sign_in(self, session: Session, actor: Actor | None, event: AuditEvent) -> None:
        """A sign-in event (or a token's issue), recorded as the person signing in (None: not
        known, a failure) or issuing."""
        if self._sign_in_audit is not None:
            self._sign_in_audit(session, actor, event)
        else:
            self._record(session, event)


# --- validation ---------------------------------------------------------------------------


# --- rows to records ----------------------------------------------------------------------


def _user_by_name(session: Session, name: str) -> UserRow | None:
    return session.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()


def _require_user(session: Session, name: str) -> UserRow:
    row = _user_by_name(session, name)
    if row is None:
        raise NotFound(f"no user named {name!r}")
    return row


def _live_token_rows(session: Session, user_id: int) -> Sequence[ApiTokenRow]:
    return session.scalars(
        select(ApiTokenRow).where(ApiTokenRow.user_id == user_id, ApiTokenRow.revoked_at.is_(None))
    ).all()


def _live_tokens(session: Session, user_id: int) -> int:
    return len(_live_token_rows(session, user_id))
