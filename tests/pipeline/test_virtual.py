"""The simulated city's virtual cameras: a probe set round-trips through its file and refuses
one without enrolled faces or strangers; virtual cameras hand their faces to a real camera
pipeline (the policy in force, real matching, the watchlist-mode rule), so in watchlist mode
only the enrolled person's faces leave a sighting and a stranger's template goes nowhere."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citywatch.config.ingest import CameraSettings
from citywatch.config.pipeline import MatchingSettings
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import AuthorisationStatus
from citywatch.domain.records import NewReference, SightingRecord, SightingSaved
from citywatch.governance.records import NewAuthorisation
from citywatch.pipeline.virtual import ProbeSet, VirtualCameras, is_virtual
from citywatch.runtime.build import Runtime
from citywatch.watchlists.gallery import Gallery
from tests.store.helpers import JPEG_STUB, MODEL, vector
from tests.watchlists.test_gallery import Named

REQUESTER = Actor("first-person@test", "investigator")
APPROVER = Actor("second-person@test", "supervisor")


def probes(strangers: int = 4) -> ProbeSet:
    templates = np.stack([vector(1), *(vector(100 + i) for i in range(strangers))])
    n = len(templates)
    crops = np.full((n, 24, 24, 3), 90, np.uint8)
    return ProbeSet(
        MODEL, templates, crops, np.array([True] + [False] * strangers), tuple(f"p{i}" for i in range(n))
    )


def test_a_probe_set_round_trips_and_a_one_sided_one_is_refused(tmp_path: Path) -> None:
    made = probes()
    made.save(tmp_path / "probes.npz")
    loaded = ProbeSet.load(tmp_path / "probes.npz")
    assert loaded.model == MODEL and loaded.names == made.names
    assert np.array_equal(loaded.templates, made.templates) and np.array_equal(loaded.enrolled, made.enrolled)
    with pytest.raises(InvalidInput, match="strangers"):
        ProbeSet(MODEL, made.templates, made.crops, np.ones(len(made.names), np.bool_), made.names)
    (tmp_path / "bad.npz").write_bytes(b"not a probe set")
    with pytest.raises(InvalidInput, match="not a probe set"):
        ProbeSet.load(tmp_path / "bad.npz")
    assert is_virtual("virtual:sim") and not is_virtual("/videos/virtual.mp4")


def authorise(rt: Runtime, camera: str) -> None:
    now = datetime.now(UTC)
    rt.governance.request(
        NewAuthorisation(
            "AUTH-VIRTUAL",
            "test court",
            "test warrant",
            "test",
            [camera],
            now - timedelta(hours=1),
            now + timedelta(hours=1),
            watchlists=("default",),
        ),
        by=REQUESTER,
        urgent_deadline=timedelta(hours=24),
    )
    rt.governance.decide("AUTH-VIRTUAL", AuthorisationStatus.APPROVED, by=APPROVER)


def test_in_watchlist_mode_only_the_enrolled_persons_faces_leave_a_sighting(rt: Runtime) -> None:
    rt.watchlists.ensure_watchlist("default")
    reference = NewReference(JPEG_STUB, ".jpg", "test photo", "test", MODEL, vector(1))
    rt.watchlists.enroll([reference], watchlist_name="default", display_name="Wanted")
    camera = CameraSettings(id="virtual-1", url="virtual:test", mode="watchlist")  # type: ignore[arg-type]
    authorise(rt, camera.id)
    saved: list[SightingRecord] = []

    def save(record: SightingRecord) -> SightingSaved | None:
        saved.append(record)
        return None

    model = Named()  # the test's templates' model: the pipeline never embeds here
    gallery = Gallery(rt.watchlists, lambda: model, MatchingSettings())  # type: ignore[arg-type,return-value]
    pipeline = replace(rt.machinery, save=save, gallery=gallery, embedder=model).pipeline(camera)  # type: ignore[arg-type]
    cameras = VirtualCameras(probes(), faces_per_s=200, enrolled_share=0.3, seed=1)
    child = cameras.camera(pipeline)
    child.start()
    deadline = time.monotonic() + 20
    while cameras.stats.probes < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.stop()
    cameras.close()
    stats = cameras.stats
    assert stats.probes >= 60 and 0 < stats.enrolled < stats.probes
    assert stats.matched == stats.enrolled == len(saved) == stats.handed_on
    assert {r.match.best.person_name for r in saved if r.match.best} == {"Wanted"}
    strangers = probes().templates[1:]
    assert not any(np.allclose(r.template, s) for r in saved if r.template is not None for s in strangers)
    assert child.done and cameras.held() == 0
