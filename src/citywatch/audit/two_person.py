"""The two-person rule, pure: may `second` complete what `first` started? No I/O, no clock."""

from __future__ import annotations

from citywatch.audit.access import Permission, can
from citywatch.domain.audit import Actor


def second_person_problem(first: Actor, second: Actor, permission: Permission) -> str | None:
    """None when `second` is a person other than `first` who holds `permission`; otherwise
    the reason in one sentence.

    People are told apart by name, whatever their role: the `local` role is the shell user
    named in `Actor.name`, so two shell users are two people and one shell user twice is one.
    A service token is never one of the two people, on either side.
    """
    needed = f"a second, different person with the {permission} permission must do it"
    for side in (first, second):
        if side.service:
            return f"{side.name} acts through a service token, which is not a person: {needed}"
    if first.name.strip().casefold() == second.name.strip().casefold():
        return f"{second.name} was the first person and cannot also be the second: {needed}"
    if not can(second, permission):
        return f"{second.name} (role {second.role}) lacks the {permission} permission the second person needs"
    return None


__all__ = ["second_person_problem"]
