"""Separation of duties, pure: may `second` complete what `first` started, and may someone
be issued a token? No I/O, no clock.

Two checks for the two-person rule. `second_person_problem`: two different people, neither
a service token, the second signed in and allowed to complete the step.
`independence_problem`: the second does not owe their account to the first. The store
supplies the facts (`AccountHistory`, read from the audit log); these only judge them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, Actor

LOCAL_SUFFIX = "@local"
"""How the `local` role's actor is named (`<unix user>@local`)."""

ACCOUNT_ACTIONS = (Action.USER_ADD, Action.USER_ENABLE, Action.USER_PASSWORD, Action.TOKEN_ISSUE)
"""What one person does to another's account that makes them not independent: creating
it, re-enabling it, setting its password, issuing it a personal token. (A service token is
left out: it can never be one of the two people, so holding one for someone decides nothing.)"""

_WHAT: dict[str, str] = {
    Action.USER_ADD: "created",
    Action.USER_ENABLE: "re-enabled",
    Action.USER_PASSWORD: "set the password of",
    Action.TOKEN_ISSUE: "issued a personal token to",
}


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """Someone (`by`) did `action` (one of ACCOUNT_ACTIONS) to an account at `at`."""

    action: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Credential:
    """One of an account's personal tokens or console sessions (never a service token), as
    it was issued: what decides whether someone else could have been the one to obtain it."""

    id: int
    issued_at: datetime
    ended_at: datetime | None
    """When it was revoked or expired (None: it has not ended)."""
    live: bool
    """It still acts for the account (not revoked, not expired) when the step is decided."""
    password_by: str | None
    """Who had set the password in force when it was issued (None: the account had none)."""
    session: bool = False


@dataclass(frozen=True, slots=True)
class Owner:
    """A person an account owes itself to (rules (a) to (c)), directly or through accounts
    that owe themselves to them, with the facts that make it so."""

    person: str
    why: str


@dataclass(frozen=True, slots=True)
class AccountHistory:
    """What is known of one account, for `independence_problem`."""

    user: str
    since: datetime
    """The window's start: `independence_days` before the step was started."""
    events: tuple[AccountEvent, ...]
    """ACCOUNT_ACTIONS done to the account from `since` on (earlier ones may be included)."""
    password_set_by: str | None
    """Who set the account's current password (None: it has none, or nobody known)."""
    credentials: tuple[Credential, ...] = ()
    """The account's personal tokens and sessions, ended ones included (rule (c))."""
    owners: tuple[Owner, ...] = ()
    """Everyone the account owes itself to, directly or through other accounts (`owed_to`,
    followed from account to account by the store): rule (d)."""


def second_person_problem(
    first: Actor,
    second: Actor,
    permission: Permission,
    history: AccountHistory | None = None,
    first_owners: tuple[Owner, ...] = (),
) -> str | None:
    """None when `second` is a person other than `first` who holds `permission` and (given
    the second's `history`) is independent of the first; otherwise the reason in one sentence.

    People are told apart by name (case-insensitively). A service token is never one of the
    two people, on either side. The `local` role (whoever runs the command line on the data
    folder, unsigned) may start a change but never complete one: it names a Unix account,
    not a person who signed in, and one person could be both `sam` and `sam@local`.
    """
    needed = f"a second, different person with the {permission} permission must do it"
    for side in (first, second):
        if side.service:
            return f"{side.name} acts through a service token, which is not a person: {needed}"
    if second.role == "local":
        return f"{second.name} has not signed in (--user or CITYWATCH_TOKEN): {needed}"
    if same_person(first.name, second.name):
        return f"{second.name} was the first person and cannot also be the second: {needed}"
    if not can(second, permission):
        return f"{second.name} (role {second.role}) lacks the {permission} permission the second person needs"
    if history is not None:
        return independence_problem(first.name, history, first_owners)
    return None


def independence_problem(
    first: str, history: AccountHistory, first_owners: tuple[Owner, ...] = ()
) -> str | None:
    """None when the account `history` describes is independent of the person `first`;
    otherwise why not, in one sentence.

    Not independent when (a) `first` created, re-enabled, set the password of or issued a
    personal token to the account from `history.since` on (whoever holds such a credential
    could act as the account), or (b) `first` set the account's current password, however
    long ago (they may know it still), or (c) the account holds a live personal token or
    session that `first` could have obtained: one issued while the password in force was one
    `first` set, or while another such credential was live (a token issued with a token).
    Setting one's own password does not clear (c); revoking the token does. What `first`'s own
    Unix account did in the `local` role (`first@local`) counts as done by `first`.

    (d) Nor when the two accounts owe themselves to one person, directly or through accounts
    that do (`history.owners`, `first_owners`: an admin's two puppets, a puppet admin's
    puppet, a puppet starting what its maker completes)."""
    owed = _owed(first, history)
    if owed is not None:
        fact, remedy = owed
        return f"{fact}, so {history.user} is not independent of {first}: {remedy}"
    return _shared_owner(first, history, first_owners)


def _owed(first: str, history: AccountHistory) -> tuple[str, str] | None:
    """Rules (a) to (c): the fact that makes the account owe itself to `first`, and what
    would undo it; None when nothing does."""
    user, setter = history.user, history.password_set_by
    if setter is not None and same_person(first, setter):
        return f"{user}'s current password was set by {setter}", f"{user} must set their own password first"
    for event in sorted(history.events, key=lambda e: e.at):
        if event.action in _WHAT and event.at >= history.since and same_person(first, event.by):
            fact = f"{event.by} {_WHAT[event.action]} {history.user} on {event.at:%Y-%m-%d %H:%M} UTC"
            return fact, "another person must do it"
    held = _obtainable_by(first, history.credentials)
    if held is not None:
        what = "console session" if held.session else "personal token"
        fact = (
            f"{user} holds {what} {held.id}, issued on {held.issued_at:%Y-%m-%d %H:%M} UTC while "
            f"{first} could sign in as {user}"
        )
        return fact, f"{user} must revoke it first"
    return None


def owed_to(history: AccountHistory) -> tuple[Owner, ...]:
    """Everyone the account directly owes itself to (rules (a) to (c)), each with the fact,
    leaving out the system and the `local` role (outside the threat model: it can write the
    database; and the accounts it made at setup would otherwise all owe themselves to it)."""
    named = {e.by for e in history.events} | {c.password_by for c in history.credentials}
    named |= {history.password_set_by}
    found: dict[str, Owner] = {}
    for person in sorted(n for n in named if n is not None and _may_own(n)):
        owed = _owed(person, history)
        if owed is not None and _person(person) != _person(history.user):
            found.setdefault(_person(person), Owner(person, owed[0]))
    return tuple(found.values())


def _may_own(name: str) -> bool:
    folded = name.strip().casefold()
    return not folded.endswith(LOCAL_SUFFIX) and folded not in _NOT_PEOPLE


_NOT_PEOPLE = frozenset({"system", "citywatch@system"})
"""Who makes accounts without being a person: the users table's default creator, the system actor."""


def _shared_owner(first: str, history: AccountHistory, first_owners: tuple[Owner, ...]) -> str | None:
    """Rule (d): `first` owes their account to the second person, or both owe theirs to one
    person (through any chain of accounts)."""
    user = history.user
    for owner in first_owners:
        if same_person(owner.person, user):
            return (
                f"{first} owes their account to {user} ({owner.why}), so {user} is not independent "
                f"of {first}: another person must do it"
            )
    for theirs in history.owners:
        for mine in first_owners:
            if same_person(theirs.person, mine.person):
                return (
                    f"{first} and {user} both owe their accounts to {mine.person} ({mine.why}; "
                    f"{theirs.why}), so {user} is not independent of {first}: another person must do it"
                )
    for theirs in history.owners:
        if same_person(theirs.person, first):  # through another account (a puppet's puppet)
            return (
                f"{user} owes their account to {first} ({theirs.why}), so {user} is not "
                f"independent of {first}: another person must do it"
            )
    return None


def _obtainable_by(first: str, credentials: tuple[Credential, ...]) -> Credential | None:
    """The first live credential `first` could have obtained (rule (c)), or None. One is
    obtainable when it was issued under a password `first` set, or while an obtainable one
    was live (whoever held that could issue this one too)."""
    obtainable: list[Credential] = []
    for c in sorted(credentials, key=lambda c: (c.issued_at, c.id)):
        under_theirs = c.password_by is not None and same_person(first, c.password_by)
        while_held = any(
            o.issued_at <= c.issued_at and (o.ended_at is None or c.issued_at < o.ended_at)
            for o in obtainable
        )
        if under_theirs or while_held:
            obtainable.append(c)
    return next((c for c in obtainable if c.live), None)


def token_issue_problem(by: Actor, owner: str, *, service: bool) -> str | None:
    """None when `by` may be issued a token acting for `owner`; otherwise why not, in one
    sentence. A personal token (one that can be one of the two people) is issued only to its
    owner, signed in as themselves: nobody, an admin included, obtains a credential that acts
    as another person. A service token (never one of the two people) is an admin's to issue.
    A service token issues no token at all."""
    if by.service:
        return f"{by.name} acts through a service token, which cannot issue tokens"
    if service:
        if not can(by, Permission.USERS_MANAGE):
            needed = Permission.USERS_MANAGE
            return f"{by.name} (role {by.role}) lacks the {needed} permission to issue a service token"
        return None
    if by.role == "local" or not same_person(by.name, owner):
        return (
            f"a personal token for {owner} is issued only to {owner}, signed in as themselves "
            f"({by.name} is not): {owner} signs in and issues it"
        )
    return None


def same_person(a: str, b: str) -> bool:
    """`a` and `b` name one person: names compare case-insensitively, and a Unix account in
    the `local` role (`sam@local`) is the person of the same name (`sam`)."""
    return _person(a) == _person(b)


def _person(name: str) -> str:
    folded = name.strip().casefold()
    head, _, tail = folded.rpartition(LOCAL_SUFFIX)
    return head if head and not tail else folded


__all__ = [
    "ACCOUNT_ACTIONS",
    "AccountEvent",
    "AccountHistory",
    "Credential",
    "Owner",
    "independence_problem",
    "owed_to",
    "same_person",
    "second_person_problem",
    "token_issue_problem",
]
