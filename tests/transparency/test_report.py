"""The transparency report: deletions summed from receipts (per class and per kind, in the
period), holds in force per kind of reference, requests per kind and status, cameras
identifying now and authorisations in force; counts only, never a name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.audit.receipts import write_receipt
from citywatch.cli.output import plain
from citywatch.config.ingest import CameraSettings
from citywatch.config.pipeline import RetentionSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import AuthorisationStatus, ProcessingMode, Window
from citywatch.domain.records import RequestKind
from citywatch.governance.records import NewAuthorisation
from citywatch.requests.records import NewRequest
from citywatch.retention.hold_records import NewHold
from citywatch.retention.holds import HoldService
from citywatch.runtime.build import Runtime
from citywatch.transparency.report import transparency_report
from tests.store.helpers import T0, Clock, sighting

DAY = timedelta(days=1)
ANN = Actor("ann", "admin")
SAM = Actor("sam", "supervisor")
IVY = Actor("ivy", "investigator")
SYSTEM = Actor("citywatch@system", "system", service=True)
NAMES = ["DC Jones", "Crown Court", "MET-7", "MET-8", "CASE-9", "W-1", "W-2", "ann", "sam", "ivy"]
"""Nothing a report may show: requesters, issuers, references, people acting."""


def camera(cid: str, mode: ProcessingMode) -> CameraSettings:
    return CameraSettings(id=cid, url=f"/nowhere/{cid}.mp4", mode=mode)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    cameras = [
        camera("gate", ProcessingMode.INVESTIGATE),
        camera("yard", ProcessingMode.WATCHLIST),
        camera("lobby", ProcessingMode.DETECT),
        camera("roof", ProcessingMode.WATCHLIST),  # asks to identify; no authorisation names it
    ]
    runtime = Runtime(Settings(data_dir=tmp_path / "data", cameras=cameras))
    runtime.actor = ANN
    yield runtime
    runtime.close()


def authorise(
    rt: Runtime, ref: str, cameras: list[str], basis: str, *, decide: AuthorisationStatus | None
) -> None:
    now = datetime.now(UTC)
    rt.governance.request(
        NewAuthorisation(
            reference=ref,
            issuer="Crown Court",
            legal_basis=basis,
            objective="find a missing person",
            cameras=cameras,
            starts_at=now - timedelta(hours=1),
            ends_at=now + 2 * DAY,
            urgent=decide is None,
        ),
        by=ANN,
        urgent_deadline=timedelta(hours=24),
    )
    if decide is not None:
        rt.governance.decide(ref, decide, by=SAM)


def purge_old_sightings(rt: Runtime, n: int, at: datetime) -> None:
    for i in range(n):
        rt.sightings.add_sighting(sighting(camera_id="lobby", start=at - 6 * DAY, track_id=i))
    ret = HoldService(
        rt.database,
        policy=RetentionSettings().policy(),
        clock=Clock(at),
        audit=rt._audit_as,
        remove_file=rt._remove_file,
    )
    assert ret.purger.purge(by=SYSTEM) is not None


def authorisation_receipt(rt: Runtime, at: datetime, sightings: int, templates: int) -> None:
    with rt.database.session() as session:
        write_receipt(
            session,
            rt._audit_as,
            "authorisation",
            at,
            policy_version="authorisation:W-0",
            counts={"sightings": sightings, "templates": templates},
            details={},
            by=SYSTEM,
        )


def file_request(rt: Runtime, reference: str) -> int:
    new = NewRequest(
        kind=RequestKind.LAW_ENFORCEMENT,
        reference=reference,
        requester="Metropolitan Police, DC Jones",
        contact="dc.jones@example.org",
        cameras=["gate"],
        window=Window(T0 - timedelta(hours=1), T0 + timedelta(hours=1)),
    )
    return rt.requests.file(new, by=IVY).id


def test_the_report_sums_receipts_and_counts_what_stands_now(rt: Runtime) -> None:
    authorise(rt, "W-1", ["gate", "yard"], "warrant 2026/114", decide=AuthorisationStatus.APPROVED)
    authorise(rt, "W-2", ["gate"], "urgent: risk to life", decide=None)  # urgent: in force at once
    authorise(rt, "W-3", ["lobby", "yard", "roof"], "warrant 2026/115", decide=AuthorisationStatus.REFUSED)
    before = T0 - 30 * DAY
    purge_old_sightings(rt, 1, before)  # outside the period below
    purge_old_sightings(rt, 2, T0)
    purge_old_sightings(rt, 3, T0 + DAY)
    authorisation_receipt(rt, T0 + 2 * DAY, sightings=4, templates=5)
    kept = file_request(rt, "MET-7")
    refused = file_request(rt, "MET-8")
    rt.requests.refuse(refused, "out of scope", by=SAM)  # releases its hold: a receipt, nothing deleted
    rt.retention.place_hold(
        NewHold(
            reference="CASE-9",
            reason="assault",
            requester="DC Jones",
            cameras=["gate"],
            # recent: a hold's window may not start before the data still kept
            window=Window(datetime.now(UTC) - 2 * timedelta(hours=1), datetime.now(UTC) - timedelta(hours=1)),
        ),
        by=IVY,
    )

    report = transparency_report(rt.database, rt.policy, rt.settings.cameras, since=T0 - DAY)

    # in the period: two purges, two authorisations' ends (W-0's; W-3 refused, closed by
    # the report's own look at the policy, deleting nothing), one hold release
    assert report.receipts == 5
    assert report.deleted["sightings"] == 2 + 3 + 4
    assert report.deleted["templates"] == 5
    assert report.deleted["footage"] == 0
    kinds = {k.kind: k for k in report.by_kind}
    assert (kinds["purge"].receipts, kinds["purge"].items["sightings"]) == (2, 5)
    assert (kinds["authorisation"].receipts, kinds["authorisation"].items["templates"]) == (2, 5)
    assert kinds["hold_release"].receipts == 1
    assert report.holds.in_force == 2 and report.holds.by_reference == {"request": 1, "case": 1}
    assert [(q.kind, q.status, q.count) for q in report.requests] == [
        ("law_enforcement", "filed", 1),
        ("law_enforcement", "refused", 1),
    ]
    assert report.overdue_requests == 0 and kept
    assert (report.cameras.configured, report.cameras.identifying) == (4, 2)  # gate, yard
    assert report.cameras.by_mode["detect"] == 2  # lobby asked for it, roof has no authorisation
    auths = report.authorisations
    assert (auths.in_force, auths.urgent_unapproved) == (2, 1)
    assert [(b.legal_basis, b.authorisations, b.cameras) for b in auths.by_legal_basis] == [
        ("urgent: risk to life", 1, 1),
        ("warrant 2026/114", 1, 2),
    ]
    assert auths.by_size == {1: 1, 2: 1}

    text = json.dumps(plain(report))
    assert not [name for name in NAMES if name in text]

    everything = transparency_report(rt.database, rt.policy, rt.settings.cameras)
    assert everything.receipts == 6 and everything.deleted["sightings"] == 1 + 2 + 3 + 4
    only_first_purge = transparency_report(
        rt.database, rt.policy, rt.settings.cameras, since=before - DAY, until=before + DAY
    )
    assert (only_first_purge.receipts, only_first_purge.deleted["sightings"]) == (1, 1)
    assert only_first_purge.requests == ()  # filed now, outside that period


def test_an_empty_instance_reports_zeros(rt: Runtime) -> None:
    report = transparency_report(rt.database, rt.policy, rt.settings.cameras)
    assert report.receipts == 0 and not any(report.deleted.values())
    assert [k.receipts for k in report.by_kind] == [0, 0, 0]
    assert report.holds.in_force == 0 and report.requests == ()
    assert (report.cameras.identifying, report.authorisations.in_force) == (0, 0)


@pytest.mark.parametrize(
    ("since", "until", "problem"),
    [
        (T0, T0, "before it starts"),
        (T0 + DAY, T0, "before it starts"),
        (datetime(2026, 3, 1), None, "timezone-aware"),
    ],
)
def test_a_bad_period_is_refused(rt: Runtime, since: datetime, until: datetime | None, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        transparency_report(rt.database, rt.policy, rt.settings.cameras, since, until)
