"""The two-person rule, pure: may `second` complete what `first` started? No I/O, no clock."""

from __future__ import annotations

from citywatch.audit.access import Permission, can
from citywatch.domain.audit import Actor


def second_person_problem(first: Actor, second: Actor, permission: Permission) -> str | None:
    """None when `second` is a person other than `first` who holds `permission`; otherwise
    the reason in one sentence.

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
    return None


def same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


__all__ = ["same_person", "second_person_problem"]
