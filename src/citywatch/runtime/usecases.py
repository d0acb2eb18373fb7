"""The collaborators of the use cases, built from a runtime: the front ends (the API, the
console, the command line) get them here and call the use case. The feature packages never
see the runtime; each names what it draws on (an import contract in pyproject.toml)."""

from __future__ import annotations

from citywatch.alerts.views import AlertViews
from citywatch.audit.hooks import Audit
from citywatch.domain.audit import Actor, AuditEvent
from citywatch.requests.fulfil import Fulfilment
from citywatch.requests.subject_access import SubjectAccess
from citywatch.retention.footage import Clips
from citywatch.runtime.build import Runtime
from citywatch.search.cases import CaseSearcher
from citywatch.sightings.views import SightingViews


def audit_of(rt: Runtime) -> Audit:
    """`rt.audit` as a use case calls it: an action with no transaction of its own, recorded
    as the actor named."""

    def audit(event: AuditEvent, actor: Actor) -> None:
        rt.audit(event, actor=actor)

    return audit


def alert_views(rt: Runtime) -> AlertViews:
    return AlertViews(rt.alerts, rt.governance, audit_of(rt))


def sighting_views(rt: Runtime) -> SightingViews:
    return SightingViews(rt.sightings, rt.blobs, rt.governance, audit_of(rt))


def case_searcher(rt: Runtime) -> CaseSearcher:
    """What a case search draws on (the models loaded when a search runs)."""
    s = rt.settings
    return CaseSearcher(
        sightings=rt.sightings,
        governance=rt.governance,
        load_detector=lambda: rt.detector,
        load_embedder=lambda: rt.embedder,
        quality=s.quality,
        matching=s.matching,
        audit=audit_of(rt),
    )


def subject_access(rt: Runtime) -> SubjectAccess:
    """What filing and fulfilling a subject-access request draw on (the models loaded when a
    search runs; the redaction detector only when a fulfilment asks for it)."""
    s = rt.settings
    return SubjectAccess(
        requests=rt.requests,
        sightings=rt.sightings,
        footage=rt.footage,
        blobs=rt.blobs,
        load_detector=lambda: rt.detector,
        load_embedder=lambda: rt.embedder,
        redaction_detector=lambda: rt.redaction_detector,
        configured=frozenset(c.id for c in rt.cameras()),
        quality=s.quality,
        matching=s.matching,
        rules=s.requests,
        data_dir=s.data_dir,
        models_dir=s.models_dir,
    )


def fulfilment(rt: Runtime) -> Fulfilment:
    """What fulfilling a request draws on; a law-enforcement export loads no model."""
    return Fulfilment(
        requests=rt.requests,
        sightings=rt.sightings,
        blobs=rt.blobs,
        footage=rt.footage,
        configured=frozenset(c.id for c in rt.cameras()),
        data_dir=rt.settings.data_dir,
        subject_access=lambda: subject_access(rt),
    )


def clips(rt: Runtime) -> Clips:
    return Clips(
        footage=rt.footage,
        cameras=rt.cameras(),
        policy=rt.policy,
        audit_log=rt.audit_log,
        governance=rt.governance,
        audit=audit_of(rt),
        data_dir=rt.settings.data_dir,
    )
