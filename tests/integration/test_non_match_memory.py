"""Learning from mistakes on the Hamilton clip, in process: Lin-Manuel Miranda's first
alert is dismissed as a false match; the clip watched again raises no alert for him from
that face, and says why. On the way: one alert per camera episode (the cooldown)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from citywatch.cli.main import app
from citywatch.domain.matching import MatchDecision
from tests.databases import stray_settings
from tests.integration.cli_helpers import approve_pending, authorise, cli_env

LIN = "Lin-Manuel Miranda"


@pytest.fixture
def env(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    wanted = cli_env(tmp_path, shared_data)
    for key in [k for k in stray_settings() if k not in wanted]:
        monkeypatch.delenv(key)
    for key, value in wanted.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON lines of `text` (the runner mixes the log, on stderr, into it)."""
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


def watch(clip: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The track lines, and the summary."""
    lines = json_lines(run("watch", str(clip), "--mode", "investigate", "--json"))
    return [x for x in lines if x["type"] == "track"], lines[-1]


def alerts() -> list[dict[str, Any]]:
    return json_lines(run("alerts", "list", "--json"))


@pytest.mark.slow
def test_a_face_dismissed_as_a_false_match_does_not_alert_again(env: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    run(
        *("enroll", str(ex / "lin-manuel-miranda.png"), "--name", LIN),
        *("--source", "face_recognition example image", "--legal-basis", "test fixture"),
    )
    approve_pending(env)
    authorise(env, ["watch"])
    clip = ex / "short_hamilton_clip.mp4"

    tracks, summary = watch(clip)
    alerted, *same_episode = [t for t in tracks if t["person"] == LIN]
    assert alerted["alert_id"] is not None
    # one alert per camera episode: his later tracks are stored, and raise none
    assert [t["cooldown_of"] for t in same_episode] == [alerted["alert_id"]] * len(same_episode)
    assert all(t["alert_id"] is None and t["sighting_id"] is not None for t in same_episode)
    assert (summary["alerts"], summary["alerts_in_cooldown"]) == (1, len(same_episode))
    (alert,) = alerts()
    assert (alert["id"], alert["severity"], alert["status"]) == (alerted["alert_id"], "medium", "new")

    said = run("alerts", "dismiss", str(alert["id"]), "--false-match", "--reason", "a look-alike")
    assert f"remembered as not {LIN}" in said and "no longer alerts for them" in said
    (alert,) = alerts()
    assert (alert["status"], alert["dismiss_reason"]) == ("dismissed", "false match: a look-alike")
    assert alert["decided_by"] and alert["decided_at"]

    again, summary = watch(clip)  # the same frames: the same faces
    (same_face,) = [t for t in again if t["track_id"] == alerted["track_id"]]
    assert same_face["decision"] == MatchDecision.UNKNOWN_NON_MATCH
    assert same_face["person"] is None and same_face["alert_id"] is None
    assert summary["dismissed_faces"] >= 1
    new_alerts = [a for a in alerts() if a["id"] != alert["id"]]
    assert same_face["sighting_id"] not in {a["sighting_id"] for a in new_alerts}
    sightings = run("sightings", "list", "--limit", "100")
    assert "closer to a face dismissed as not" in " ".join(sightings.split())
