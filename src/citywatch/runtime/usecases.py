"""The collaborators of the use cases, built from a runtime: the front ends (the API, the
console, the command line) get them here and call the use case. The feature packages never
see the runtime; each names what it draws on (an import contract in pyproject.toml)."""

from __future__ import annotations

from citywatch.alerts.views import AlertViews
from citywatch.audit.hooks import Audit
from citywatch.domain.audit import Actor, AuditEvent
from citywatch.retention.footage import Clips
from citywatch.runtime.build import Runtime
from citywatch.search.cases import CaseSearcher


def audit_of(rt: Runtime) -> Audit:
    """`rt.audit` as a use case calls it: an action with no transaction of its own, recorded
    as the actor named."""

    def audit(event: AuditEvent, actor: Actor) -> None:
        rt.audit(event, actor=actor)

    return audit


def alert_views(rt: Runtime) -> AlertViews:
    return AlertViews(rt.alerts, rt.governance, audit_of(rt))


def case_searcher(rt: Runtime) -> CaseSearcher:
    """What a case search draws on (loads the detector and the embedder)."""
    s = rt.settings
    return CaseSearcher(
        sightings=rt.sightings,
        governance=rt.governance,
        detector=rt.detector,
        embedder=rt.embedder,
        quality=s.quality,
        matching=s.matching,
        audit=audit_of(rt),
    )


def clips(rt: Runtime) -> Clips:
    return Clips(
        footage=rt.footage,
        cameras=rt.settings.cameras,
        policy=rt.policy,
        audit_log=rt.audit_log,
        governance=rt.governance,
        audit=audit_of(rt),
        data_dir=rt.settings.data_dir,
    )
