"""Builders and readers for tests of stored sightings: an authorisation that has ended, the
source keys stored, the crop files on disk and the crops the rows name."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from citywatch.domain.audit import Actor
from citywatch.domain.policy import AuthorisationStatus
from citywatch.governance.records import NewAuthorisation
from citywatch.governance.service import GovernanceService
from citywatch.runtime.build import Runtime
from citywatch.store import sighting_queries
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.sighting_tables import Sighting
from tests.store.helpers import T0, Clock, files_under


def ended_authorisation(rt: Runtime, camera_id: str = "cam-2", reference: str = "U-1") -> int:
    """The id of an urgent authorisation for `camera_id` that its supervisor refused."""
    gov = GovernanceService(rt.database, rt.blobs, clock=Clock(T0), audit=rt._audit_as)
    new = NewAuthorisation(
        reference,
        "Crown Court",
        "warrant 2026/7",
        "find a missing person",
        [camera_id],
        T0,
        T0 + timedelta(days=1),
    )
    gov.request(replace(new, urgent=True), by=Actor("ann", "admin"), urgent_deadline=timedelta(hours=24))
    gov.decide(reference, AuthorisationStatus.REFUSED, by=Actor("sam", "supervisor"))
    return gov.authorisation(reference).authorisation.id


def stored_keys(rt: Runtime) -> list[str]:
    """The source keys of every stored sighting, sorted."""
    with rt.database.session(write=False) as session:
        return sorted(k for k in session.scalars(select(Sighting.source_key)) if k is not None)


def crop_files(rt: Runtime) -> set[str]:
    """The crop files in the blob store (local), as paths relative to its root."""
    blobs = rt.blobs
    assert isinstance(blobs, LocalBlobStore)
    return {p.relative_to(blobs.root).as_posix() for p in files_under(blobs.root / "crops")}


def crop_paths(rt: Runtime) -> set[str]:
    """The crops the stored sightings name."""
    with rt.database.session(write=False) as session:
        return sighting_queries.all_crop_paths(session)
