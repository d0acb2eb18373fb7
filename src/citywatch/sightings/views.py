"""Looking at sightings, as the API and the command line both do it: within the caller's camera
scope (a refusal audited), after what a lapsed authorisation derived is gone, every view
audited (`sighting.view`, and `sighting.crop` for a face). Front ends parse and render; this
decides what is seen and records that it was."""

from __future__ import annotations

from dataclasses import dataclass

from citywatch.alerts.views import require_camera, viewed
from citywatch.audit.hooks import Audit
from citywatch.domain.access import Permission
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.records import SightingInfo
from citywatch.governance.service import GovernanceService
from citywatch.sightings.store import SightingStore
from citywatch.store.blobs import BlobStore


@dataclass(frozen=True, slots=True)
class SightingViews:
    """What looking at sightings draws on."""

    sightings: SightingStore
    crops: BlobStore
    """Where the face crops are kept."""
    governance: GovernanceService
    """Enforced before each look: what a lapsed authorisation derived is gone."""
    audit: Audit
    """Records each view and refusal as the caller."""


def view_page(
    views: SightingViews,
    actor: Actor,
    *,
    limit: int,
    before_id: int | None = None,
    camera: str | None = None,
    path: str,
) -> list[SightingInfo]:
    """A page of the sightings `actor` may see, newest stored first (only `camera`'s when
    given, which must be within their scope: refused and audited otherwise). Audited
    (`sighting.view`)."""
    if camera is not None:
        require_camera(views.audit, actor, Permission.SIGHTINGS_READ, camera, path)
    views.governance.enforce()  # what a lapsed authorisation derived is gone before anyone looks
    rows = views.sightings.sightings_page(
        limit, before_id=before_id, camera_id=camera, camera_ids=actor.cameras
    )
    params = {"camera": camera, "limit": limit, "before_id": before_id}
    views.audit(viewed(Action.SIGHTING_VIEW, "sightings", [s.id for s in rows], params), actor)
    return rows


def view_crop(views: SightingViews, actor: Actor, sighting_id: int, *, path: str) -> bytes:
    """The face crop (JPEG) of sighting `sighting_id`, if its camera is within `actor`'s scope
    (one outside it is answered as one that does not exist, the refusal audited). Biometric
    data: every read is audited (`sighting.crop`)."""
    sighting = views.sightings.get_sighting(sighting_id)
    require_camera(
        views.audit,
        actor,
        Permission.SIGHTINGS_READ,
        sighting.camera_id,
        path,
        unseen=f"no sighting with id {sighting_id}",  # as the store answers one that does not exist
    )
    data = views.crops.read(sighting.crop_path)
    event = AuditEvent(
        Action.SIGHTING_CROP,
        f"sighting:{sighting.id}",
        params={"camera": sighting.camera_id, "crop_sha256": sighting.crop_sha256},
        result_count=1,
    )
    views.audit(event, actor)
    return data
