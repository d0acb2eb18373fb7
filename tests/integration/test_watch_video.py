"""The Hamilton clip end to end: enrol two people, watch, get Lin-Manuel Miranda's alert."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.databases import metadata_sql
from tests.integration.cli_helpers import authorise, citywatch, enroll

LIN = "Lin-Manuel Miranda"
CASE = ("--case", "C-2026-0042", "--legal-basis", "court order 2026/77", "--authorisation", "AUTH-TEST")
ALEX = "Alex Lacamoire"


@pytest.fixture(scope="module")
def hamilton(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path, module_database: None
) -> tuple[Path, list[dict[str, object]]]:
    work = tmp_path_factory.mktemp("hamilton")
    ex = shared_data / "face_recognition/examples"
    assert enroll(work, shared_data, LIN, ex / "lin-manuel-miranda.png").code == 0
    assert enroll(work, shared_data, ALEX, ex / "alex-lacamoire.png").code == 0
    authorise(work, ["watch", "elsewhere"])
    res = citywatch(
        work, shared_data, "watch", str(ex / "short_hamilton_clip.mp4"), "--mode", "investigate", "--json"
    )
    assert res.code == 0, res.stderr
    return work, res.json_lines()


@pytest.mark.slow
def test_lin_manuel_is_seen_and_alerted(hamilton: tuple[Path, list[dict[str, object]]]) -> None:
    work, lines = hamilton
    tracks = [line for line in lines if line["type"] == "track"]
    lin = [t for t in tracks if t["person"] == LIN]
    assert lin, "no Lin-Manuel Miranda track"
    assert all(t["sighting_id"] is not None for t in lin)
    # one alert per camera episode: his later tracks fall in the first alert's cooldown
    first, *later = lin
    assert first["alert_id"] is not None
    assert all(t["alert_id"] is None and t["cooldown_of"] == first["alert_id"] for t in later)
    # Only Lin-Manuel Miranda is on screen long enough to be identified; Alex Lacamoire is
    # not in the clip, and nobody may be attributed to him.
    assert not [t for t in tracks if t["person"] == ALEX]
    summary = lines[-1]
    assert summary["type"] == "summary"
    assert summary["frames_decoded"] == 275
    assert (summary["alerts"], summary["alerts_in_cooldown"]) == (1, len(lin) - 1)
    assert summary["embeddings"] <= 2 * summary["tracks"]  # per track, not per frame

    db = metadata_sql(work / "data")
    stored = db.execute(
        "select person_name, crop_path from sightings where person_name is not null"
    ).fetchall()
    assert {name for name, _ in stored} == {LIN}
    for _, crop in stored:
        assert (work / "data/blobs" / crop).is_file()
    alerts = db.execute("select person_name, status from alerts").fetchall()
    assert alerts and all(a == (LIN, "new") for a in alerts)

    res = citywatch(work, Path(str(work)), "alerts", "list", "--json")
    assert {a["person_name"] for a in res.json_lines()} == {LIN}


@pytest.mark.slow
def test_search_by_photo_finds_the_sightings(
    hamilton: tuple[Path, list[dict[str, object]]], shared_data: Path
) -> None:
    work, lines = hamilton
    lin_ids = {t["sighting_id"] for t in lines if t.get("person") == LIN}
    photo = str(shared_data / "face_recognition/examples/lin-manuel-miranda.png")
    res = citywatch(
        work, shared_data, "search", photo, *CASE, "--cameras", "watch", "--since", "1h", "--json"
    )
    assert res.code == 0, res.stderr
    hits = res.json_lines()
    assert hits and {h["sighting_id"] for h in hits} >= lin_ids
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert hits == sorted(hits, key=lambda h: h["distance"])
    assert all(Path(h["crop_path"]).is_file() for h in hits)

    other_camera = citywatch(
        work, shared_data, "search", photo, *CASE, "--cameras", "elsewhere", "--since", "1h", "--json"
    )
    assert other_camera.code == 0 and other_camera.json_lines() == []
    before = citywatch(
        work,
        shared_data,
        "search",
        photo,
        *CASE,
        "--cameras",
        "watch",
        "--since",
        "3h",
        "--until",
        "2h",
        "--json",
    )
    assert before.code == 0 and before.json_lines() == []  # the window is honoured


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--cameras", "watch", "--since", "1h"], "a case id is required"),
        (["--case", "C-1", "--cameras", "watch", "--since", "1h"], "legal basis is required"),
        ([*("--case", "C-1", "--legal-basis", "order 7"), "--since", "1h"], "named cameras are required"),
        ([*("--case", "C-1", "--legal-basis", "order 7"), "--cameras", "watch"], "start of the time window"),
        (
            [*("--case", "C-1", "--legal-basis", "order 7"), "--cameras", "watch", "--since", "30d"],
            "longer than",
        ),
        (
            [*("--case", "C-1", "--legal-basis", "order 7"), "--cameras", "watch", "--since", "1h"],
            "an authorisation is required",
        ),
        (
            [
                *("--case", "C-1", "--legal-basis", "order 7"),
                *("--cameras", "watch", "--since", "1h"),
                "--authorisation",
                "W-404",
            ],
            "no authorisation 'W-404' is on record",
        ),
        (
            [
                *("--case", "C-1", "--legal-basis", "order 7"),
                *("--cameras", "yard", "--since", "1h"),
                "--authorisation",
                "AUTH-TEST",
            ],
            "does not name camera(s) yard",
        ),
    ],
)
def test_untargeted_searches_are_refused_and_audited(
    hamilton: tuple[Path, list[dict[str, object]]], shared_data: Path, args: list[str], reason: str
) -> None:
    work, _ = hamilton
    photo = str(shared_data / "face_recognition/examples/lin-manuel-miranda.png")
    res = citywatch(work, shared_data, "search", photo, *args)
    assert res.code == 2 and "search refused" in res.stderr and reason in res.stderr
    last = citywatch(work, shared_data, "audit", "list", "--json").json_lines()[-1]
    assert last["action"] == "search.refused" and reason in last["params"]["reason"]


@pytest.mark.slow
def test_watchlist_mode_keeps_nothing_of_unmatched_faces(tmp_path: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    assert enroll(tmp_path, shared_data, ALEX, ex / "alex-lacamoire.png").code == 0
    authorise(tmp_path, ["watch"])
    res = citywatch(tmp_path, shared_data, "watch", str(ex / "short_hamilton_clip.mp4"), "--json")
    assert res.code == 0, res.stderr
    summary = res.json_lines()[-1]
    assert summary["mode"] == "watchlist"
    assert summary["tracks"] > 0 and summary["sightings"] == 0 and summary["discarded"] == summary["tracks"]
    db = metadata_sql(tmp_path / "data")
    assert db.execute("select count(*) from sightings").fetchone() == (0,)
    assert not list((tmp_path / "data/blobs").glob("crops/**/*.jpg"))


@pytest.mark.slow
def test_verify_json(tmp_path: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    same = citywatch(tmp_path, shared_data, "verify", str(ex / "obama.jpg"), str(ex / "obama2.jpg"), "--json")
    other = citywatch(tmp_path, shared_data, "verify", str(ex / "obama.jpg"), str(ex / "biden.jpg"), "--json")
    (s,), (o,) = same.json_lines(), other.json_lines()
    assert s["same_person"] is True and s["distance"] < s["threshold"]
    assert o["same_person"] is False and o["distance"] >= o["threshold"]
