"""The case search page: it offers only authorisations approved and in force, with the
cameras within the investigator's scope; the search it posts (a real face photo) finds the
sightings of that face, nearest first, with their crops and the clip around one, each
through its audited route."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citywatch.config.ingest import SourceSettings
from citywatch.domain.records import SightingRecord
from citywatch.ingest.file import FileSource
from citywatch.ingest.recorder import Recorder
from citywatch.media.images import encode_jpeg, read_image
from citywatch.runtime.build import Runtime
from citywatch.vision.photo import one_face
from citywatch.web.console.search import CLIP_PAD_S
from tests.store.helpers import no_match
from tests.web.console.pages_harness import Console, console_settings, open_console


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    yield from open_console(console_settings(tmp_path))


def test_the_page_offers_only_approved_authorisations_in_force_within_the_scope(console: Console) -> None:
    console.authorise("W-BOTH", ["gate-1", "hall-2"])
    console.authorise("W-HALL", ["hall-2"])
    console.authorise("W-PENDING", ["gate-1"], approve=False)

    page = console.page("/console/search", "ian")
    assert page.status_code == 200
    html = page.text
    assert 'name="case-search"' in html and "data-case-search" in html
    assert 'value="W-BOTH"' in html and 'data-cameras="gate-1,hall-2"' in html
    assert 'value="W-HALL"' in html and 'value="W-PENDING"' not in html
    for field in ('name="case"', 'name="legal_basis"', 'name="since"', 'name="until"', 'name="photo"'):
        assert field in html
    assert 'value="warrant W-BOTH"' in html  # the legal basis, from the first authorisation
    assert 'data-camera-choice="hall-2"' in html
    assert '<script src="/static/search.js" defer></script>' in html

    scoped = console.page("/console/search", "ivy").text  # an investigator limited to gate-1
    assert 'value="W-BOTH"' in scoped and 'data-cameras="gate-1"' in scoped
    assert 'value="W-HALL"' not in scoped and 'data-camera-choice="hall-2"' not in scoped


def test_without_a_case_the_page_says_what_is_needed(console: Console) -> None:
    html = console.page("/console/search", "ian").text
    assert 'data-empty="cases"' in html and 'name="case-search"' not in html


def test_signed_out_goes_to_sign_in_and_a_role_without_case_search_is_refused(console: Console) -> None:
    signed_out = console.page("/console/search", None)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login?next=/console/search"
    for user in ("olga", "sam", "ada", "aude"):  # case search belongs to investigators alone
        refused = console.page("/console/search", user)
        assert refused.status_code == 403 and "Not allowed" in refused.text, user


def test_the_page_script_is_served(console: Console) -> None:
    script = console.page("/static/search.js", None)
    assert script.status_code == 200 and "/api/search" in script.text
    assert "data-sighting-id" in script.text and "/api/recordings/clip" in script.text


def nudged(template: np.ndarray, distance: float, rng: np.random.Generator) -> np.ndarray:
    """`template` moved `distance` (a share of its length) in a random direction."""
    direction = rng.normal(size=template.shape)
    step = distance * float(np.linalg.norm(template)) * direction / np.linalg.norm(direction)
    return (template + step).astype(np.float32)


def record_hamilton(rt: Runtime, camera: str, start: datetime, shared_data: Path) -> None:
    """The shared Hamilton clip recorded as `camera` from `start`, in 3 s segments."""
    recorder = Recorder(camera, rt.footage, segment_s=3.0, allowed=lambda _at: True)
    clip = shared_data / "face_recognition/examples/short_hamilton_clip.mp4"
    for _ in FileSource(camera, clip, SourceSettings(), started_at=start, tap=recorder).frames():
        pass
    recorder.close()


def store_sighting(rt: Runtime, camera: str, at: datetime, template: np.ndarray, crop: bytes) -> int:
    """A finished track as investigate mode keeps it (with its template), matching nobody."""
    record = SightingRecord(
        camera_id=camera,
        track_id=int(at.timestamp()),
        started_at=at,
        ended_at=at + timedelta(seconds=4),
        detections=12,
        quality=0.8,
        crop_jpeg=crop,
        model=rt.embedder.name,
        template=template,
        match=no_match(),
    )
    return rt.sightings.add_sighting(record).sighting_id


@pytest.mark.data
def test_a_case_search_from_the_page_finds_the_face_nearest_first(tmp_path: Path, shared_data: Path) -> None:
    examples = shared_data / "face_recognition/examples"
    for console in open_console(console_settings(tmp_path, models_dir=shared_data / "models")):
        rt = console.rt
        lin, obama = (
            one_face(examples / name, rt.detector, rt.embedder, rt.settings.quality).template
            for name in ("lin-manuel-miranda.png", "obama.jpg")
        )
        crop = encode_jpeg(read_image(examples / "lin-manuel-miranda.png")[:96, :96])
        rng = np.random.default_rng(7)
        now = datetime.now(UTC)
        ago = [now - timedelta(minutes=m) for m in (30, 120, 60, 45, 600)]
        record_hamilton(rt, "gate-1", ago[0] - timedelta(seconds=3), shared_data)
        near = store_sighting(rt, "gate-1", ago[0], nudged(lin, 0.02, rng), crop)
        farther = store_sighting(rt, "gate-1", ago[1], nudged(lin, 0.15, rng), crop)
        someone_else = store_sighting(rt, "gate-1", ago[2], obama, crop)
        elsewhere = store_sighting(rt, "hall-2", ago[3], lin, crop)
        too_early = store_sighting(rt, "gate-1", ago[4], lin, crop)
        console.authorise("W-CASE", ["gate-1", "hall-2"])
        assert 'value="W-CASE"' in console.page("/console/search", "ian").text

        form = {
            "case": "C-2026-0042",
            "legal_basis": "warrant W-CASE",
            "authorisation": "W-CASE",
            "cameras": "gate-1",
            "since": (now - timedelta(hours=3)).isoformat(),
            "until": now.isoformat(),
        }
        photo = (examples / "lin-manuel-miranda.png").read_bytes()
        found = console.api(
            "POST", "/api/search", "ian", data=form, files=[("photo", ("lin.png", photo, "image/png"))]
        )
        assert found.status_code == 200, found.text
        hits = found.json()["items"]
        assert [h["sighting_id"] for h in hits] == [near, farther]
        assert [h["rank"] for h in hits] == [1, 2] and hits[0]["distance"] < hits[1]["distance"]
        assert {someone_else, elsewhere, too_early}.isdisjoint(h["sighting_id"] for h in hits)
        [searched] = console.audited("search.photo")
        assert (searched.actor, searched.case, searched.authorisation) == ("ian", "C-2026-0042", "W-CASE")
        assert searched.result_count == 2

        shown = console.page(hits[0]["crop_url"], "ian")  # the table's crop, as the page loads it
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
        assert [e.object for e in console.audited("sighting.crop")] == [f"sighting:{near}"]

        # "open the clip": the footage around the sighting, as the page asks for it
        hit = hits[0]
        around = {
            "camera": hit["camera_id"],
            "since": (datetime.fromisoformat(hit["started_at"]) - timedelta(seconds=CLIP_PAD_S)).isoformat(),
            "until": (datetime.fromisoformat(hit["ended_at"]) + timedelta(seconds=CLIP_PAD_S)).isoformat(),
            "case": "C-2026-0042",  # the case and authorisation the results were found under
            "authorisation": "W-CASE",
        }
        clip = console.api("GET", "/api/recordings/clip", "ian", params=around)
        assert clip.status_code == 200, clip.text
        assert clip.headers["content-type"] == "video/mp4" and clip.content[4:8] == b"ftyp"
        [exported] = console.audited("clip.export")
        assert (exported.actor, exported.case, exported.authorisation) == ("ian", "C-2026-0042", "W-CASE")

        scoped = console.api(
            "POST",
            "/api/search",
            "ivy",
            data={**form, "cameras": "hall-2"},
            files=[("photo", ("lin.png", photo, "image/png"))],
        )
        # outside ivy's cameras, whatever the authorisation names: answered as no such camera
        assert scoped.status_code == 404 and "within your scope" in scoped.json()["detail"]
