"""Access control, pure: one `can(actor, permission, camera)`; default deny; and
`within_scope`, the camera-scope rule for records that name several cameras."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from citywatch.domain.audit import Actor


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    INVESTIGATOR = "investigator"
    AUDITOR = "auditor"
    LOCAL = "local"
    """The shell user of an embedded install before user accounts exist: whoever can run
    the command can read the files anyway. Every action is still audited under this role."""


ACCOUNT_ROLES: tuple[str, ...] = tuple(r.value for r in Role if r is not Role.LOCAL)
"""The roles a user account can hold (`local` is the shell's, never an account's)."""


class Permission(StrEnum):
    PUBLIC = "public"
    """Anyone, signed in or not (version, writing a default configuration)."""
    SYSTEM_MANAGE = "system.manage"
    USERS_MANAGE = "users.manage"
    ACCOUNT_SELF = "account.self"
    """One's own account, signed in as oneself: set one's password, issue one's personal
    tokens (nobody else can issue them: citywatch.audit.two_person.token_issue_problem)."""
    POLICY_READ = "policy.read"
    POLICY_MANAGE = "policy.manage"
    """Zones, events and policy rules."""
    CAMERAS_RUN = "cameras.run"
    CAMERAS_MANAGE = "cameras.manage"
    """Add, change and remove camera records (`citywatch cameras`, `/api/cameras`): what the
    city runs, and where its streams' credentials are kept."""
    WATCHLISTS_READ = "watchlists.read"
    WATCHLISTS_MANAGE = "watchlists.manage"
    CHANGES_APPROVE = "changes.approve"
    """Second person on watchlist members and threshold raises (two-person rule)."""
    AUTHORISATIONS_READ = "authorisations.read"
    AUTHORISATIONS_REQUEST = "authorisations.request"
    AUTHORISATIONS_DECIDE = "authorisations.decide"
    SIGHTINGS_READ = "sightings.read"
    ALERTS_READ = "alerts.read"
    ALERTS_ACT = "alerts.act"
    """Acknowledge, confirm, dismiss."""
    CASE_SEARCH = "case.search"
    FACES_VERIFY = "faces.verify"
    AUDIT_READ = "audit.read"
    BENCHMARK = "benchmark.run"
    HOLDS_MANAGE = "holds.manage"
    """Place, extend and release legal holds."""
    RETENTION_PURGE = "retention.purge"
    RECEIPTS_READ = "receipts.read"
    REQUESTS_READ = "requests.read"
    REQUESTS_FILE = "requests.file"
    """Record a law-enforcement request (the public files theirs through the web form)."""
    REQUESTS_DECIDE = "requests.decide"
    EXPORTS_VERIFY = "exports.verify"
    ORDERS_READ = "orders.read"
    ORDERS_MANAGE = "orders.manage"
    """Record, end and revoke stay-at-home orders."""
    METRICS_READ = "metrics.read"
    """Read the Prometheus metrics (counts and latencies, no personal data): an admin's
    service token for the scraper rather than a public page, so every scraper is a named,
    revocable token."""


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.ACCOUNT_SELF,
            Permission.SYSTEM_MANAGE,
            Permission.USERS_MANAGE,
            Permission.POLICY_READ,
            Permission.POLICY_MANAGE,
            Permission.CAMERAS_RUN,
            Permission.CAMERAS_MANAGE,
            Permission.WATCHLISTS_READ,
            Permission.WATCHLISTS_MANAGE,
            Permission.AUTHORISATIONS_READ,
            Permission.AUTHORISATIONS_REQUEST,
            Permission.SIGHTINGS_READ,
            Permission.ALERTS_READ,
            Permission.FACES_VERIFY,
            Permission.AUDIT_READ,
            Permission.BENCHMARK,
            Permission.RETENTION_PURGE,
            Permission.RECEIPTS_READ,
            Permission.REQUESTS_READ,
            Permission.REQUESTS_FILE,
            Permission.EXPORTS_VERIFY,
            Permission.ORDERS_READ,
            Permission.METRICS_READ,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.ACCOUNT_SELF,
            Permission.POLICY_READ,
            Permission.WATCHLISTS_READ,
            Permission.WATCHLISTS_MANAGE,
            Permission.CHANGES_APPROVE,
            Permission.AUTHORISATIONS_READ,
            Permission.AUTHORISATIONS_REQUEST,
            Permission.AUTHORISATIONS_DECIDE,
            Permission.SIGHTINGS_READ,
            Permission.ALERTS_READ,
            Permission.ALERTS_ACT,
            Permission.FACES_VERIFY,
            Permission.HOLDS_MANAGE,
            Permission.RECEIPTS_READ,
            Permission.REQUESTS_READ,
            Permission.REQUESTS_FILE,
            Permission.REQUESTS_DECIDE,
            Permission.EXPORTS_VERIFY,
            Permission.ORDERS_READ,
            Permission.ORDERS_MANAGE,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            Permission.ACCOUNT_SELF,
            Permission.POLICY_READ,
            Permission.ALERTS_READ,
            Permission.ALERTS_ACT,
            Permission.SIGHTINGS_READ,
            Permission.WATCHLISTS_READ,
            Permission.ORDERS_READ,
        }
    ),
    Role.INVESTIGATOR: frozenset(
        {
            Permission.ACCOUNT_SELF,
            Permission.CASE_SEARCH,
            Permission.SIGHTINGS_READ,
            Permission.FACES_VERIFY,
            Permission.AUTHORISATIONS_READ,
            Permission.AUTHORISATIONS_REQUEST,
            Permission.HOLDS_MANAGE,
            Permission.REQUESTS_READ,
            Permission.REQUESTS_FILE,
            Permission.EXPORTS_VERIFY,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Permission.ACCOUNT_SELF,
            Permission.AUDIT_READ,
            Permission.POLICY_READ,
            Permission.AUTHORISATIONS_READ,
            Permission.RECEIPTS_READ,
            Permission.REQUESTS_READ,
            Permission.EXPORTS_VERIFY,
            Permission.ORDERS_READ,
        }
    ),
    Role.LOCAL: frozenset(Permission) - {Permission.PUBLIC},
}
"""What each role may do. Case search belongs to investigators alone; the auditor sees the
log and reports, never biometric data."""


def can(actor: Actor, permission: Permission, camera: str | None = None) -> bool:
    """True when the actor's role grants `permission` and, for an action on `camera`, the
    camera is within the actor's scope (None: every camera). Unknown roles get nothing."""
    if permission is Permission.PUBLIC:
        return True
    try:
        role = Role(actor.role)
    except ValueError:
        return False
    if permission not in GRANTS[role]:
        return False
    return camera is None or actor.cameras is None or camera in actor.cameras


def within_scope(actor: Actor, cameras: Iterable[str] | None) -> bool:
    """True when a record touching `cameras` (a hold, a request, an export) lies wholly
    within the actor's camera scope, so the actor may see it and act on it.

    An unscoped actor reaches every record. A scoped actor reaches a record only when it
    names at least one camera and every camera it names is within the scope: one camera
    outside hides the whole record (its reference, requester and window would tell of
    footage the actor may not see), and a record naming no camera, or whose cameras can no
    longer be told (None), may cover any camera, so it is out of reach too."""
    if actor.cameras is None:
        return True
    named = set(cameras or ())
    return bool(named) and named <= actor.cameras


def scope_refusal(actor: Actor, what: str, cameras: Iterable[str] | None) -> str:
    """The words of a refusal by `within_scope`: what is refused, the cameras outside the
    actor's scope and the scope itself (never anything else of the record)."""
    scope = ", ".join(sorted(actor.cameras or ())) or "none"
    outside = sorted(set(cameras or ()) - (actor.cameras or frozenset()))
    if not outside:
        return f"{what}: it is not limited to named cameras, and {actor.name} is limited to: {scope}"
    return f"{what}: {actor.name} may not act on camera(s) {', '.join(outside)} (limited to: {scope})"
