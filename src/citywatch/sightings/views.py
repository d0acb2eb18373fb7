"""Looking at sightings, as the API and the command line both do it: within the caller's camera
scope (a refusal audited), after what a lapsed authorisation derived is gone, every view
audited (`sighting.view`, and `sighting.crop` for a face). Front ends parse and render; this
decides what is seen and records that it was."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from citywatch.audit.hooks import Audit
from citywatch.audit.looks import require_camera, viewed
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
    asked: str,
) -> list[SightingInfo]:
    """A page of the sightings `actor` may see, newest stored first (only `camera`'s when
    given, which must be within their scope: refused and audited otherwise). Audited
    (`sighting.view`)."""
    params = {"camera": camera, "limit": limit, "before_id": before_id}

    def page() -> list[SightingInfo]:
        return views.sightings.sightings_page(
            limit, before_id=before_id, camera_id=camera, camera_ids=actor.cameras
        )

    return _look(views, actor, camera=camera, asked=asked, read=page, params=params)


def view_latest(
    views: SightingViews, actor: Actor, *, limit: int, camera: str | None = None, asked: str
) -> list[SightingInfo]:
    """The `limit` sightings `actor` may see that started last (a long track stored after
    shorter, later ones still comes first), as `view_page` checks and audits them."""

    def latest() -> list[SightingInfo]:
        return views.sightings.list_sightings(limit, camera, camera_ids=actor.cameras)

    return _look(
        views, actor, camera=camera, asked=asked, read=latest, params={"camera": camera, "limit": limit}
    )


def _look(
    views: SightingViews,
    actor: Actor,
    *,
    camera: str | None,
    asked: str,
    read: Callable[[], list[SightingInfo]],
    params: Mapping[str, object],
) -> list[SightingInfo]:
    """`read`, once `camera` is known to be within `actor`'s scope (refused and audited
    otherwise) and what a lapsed authorisation derived is gone; the look audited."""
    if camera is not None:
        require_camera(views.audit, actor, Permission.SIGHTINGS_READ, camera, asked)
    views.governance.enforce()  # what a lapsed authorisation derived is gone before anyone looks
    rows = read()
    views.audit(viewed(Action.SIGHTING_VIEW, "sightings", [s.id for s in rows], params), actor)
    return rows


def view_crop(views: SightingViews, actor: Actor, sighting_id: int, *, asked: str) -> bytes:
    """The face crop (JPEG) of sighting `sighting_id`, if its camera is within `actor`'s scope
    (one outside it is answered as one that does not exist, the refusal audited). Biometric
    data: every read is audited (`sighting.crop`). Not one derived under an authorisation
    that has lapsed: that is gone first."""
    views.governance.enforce()
    sighting = views.sightings.get_sighting(sighting_id)
    require_camera(
        views.audit,
        actor,
        Permission.SIGHTINGS_READ,
        sighting.camera_id,
        asked,
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


def margins_of(views: SightingViews, sighting_ids: Collection[int]) -> dict[int, float | None]:
    """Each still-stored sighting's margin to the runner-up (None: none), for the alerts a page
    already shows, and has recorded as viewed."""
    return views.sightings.sighting_margins(sighting_ids)
