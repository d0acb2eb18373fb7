"""End to end on the Hamilton clip, all through the CLI: a registered assembly over the stage
camera turns identification (and so alerts) off; an authorisation that names the assembly
turns it back on; each step is decided by a second person and leaves audit records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import Result, citywatch, enroll

LIN = "Lin-Manuel Miranda"
AUTH = ("--issuer", "Magistrates' Court", "--legal-basis", "warrant 2026/311", "--objective", "find L.M.M.")


@pytest.mark.slow
def test_an_assembly_turns_alerts_off_until_an_authorisation_names_it(
    tmp_path: Path, shared_data: Path
) -> None:
    ex = shared_data / "face_recognition/examples"
    clip = str(ex / "short_hamilton_clip.mp4")

    def cw(*args: str, as_supervisor: bool = False) -> Result:
        env = {"CITYWATCH_TOKEN": (tmp_path / "sam.token").read_text().strip()} if as_supervisor else None
        res = citywatch(tmp_path, shared_data, *args, env=env)
        assert res.code == 0, f"citywatch {' '.join(args)}: {res.stderr}"
        return res

    # a second person: the supervisor Sam, signing in with a token
    cw("user", "add", "sam", "--role", "supervisor", "--no-password")
    cw("user", "token", "issue", "sam", "--label", "e2e", "--out", str(tmp_path / "sam.token"))
    # enrolment waits for Sam (two-person rule)
    assert enroll(tmp_path, shared_data, LIN, ex / "lin-manuel-miranda.png", approve=False).code == 0
    (change,) = cw("changes", "list", "--json").json_lines()
    cw("changes", "approve", str(change["id"]), as_supervisor=True)

    cw("zones", "add", "theatre", "--camera", "stage")
    cw("events", "add", "assembly", "--zone", "theatre", "--from", "1h", "--until", "+2h")
    cw(
        "authorisations",
        "request",
        "W-1",
        *AUTH,
        "--camera",
        "stage",
        "--watchlist",
        "default",
        "--until",
        "+1d",
    )
    cw("authorisations", "approve", "W-1", as_supervisor=True)

    during = summary(cw("watch", clip, "--camera-id", "stage", "--json"))
    assert during["mode"] == "detect"
    assert "event assembly" in during["why_not_requested"]
    assert during["faces_detected"] > 0  # faces are still counted
    assert (during["tracks"], during["sightings"], during["alerts"]) == (0, 0, 0)

    cw(
        "authorisations",
        "request",
        "W-2",
        *AUTH,
        "--camera",
        "stage",
        "--event",
        "assembly",
        "--until",
        "+1d",
    )
    cw("authorisations", "approve", "W-2", as_supervisor=True)
    # the watchlist moves to W-2 only now that W-2 is approved (W-1 is still open)
    cw("authorisations", "bind", "default", "W-2")
    named = summary(cw("watch", clip, "--camera-id", "stage", "--json"))
    assert named["mode"] == "watchlist" and named["authorisations"] == ["W-2"]
    assert named["alerts"] >= 1
    alerts = cw("alerts", "list", "--json").json_lines()
    assert alerts and {a["person_name"] for a in alerts} == {LIN}
    # an operator limited to another camera sees none of them
    cw("user", "add", "olga", "--role", "operator", "--camera", "gate", "--no-password")
    cw("user", "token", "issue", "olga", "--label", "e2e", "--out", str(tmp_path / "olga.token"))
    token = (tmp_path / "olga.token").read_text().strip()
    scoped = citywatch(tmp_path, shared_data, "alerts", "list", "--json", env={"CITYWATCH_TOKEN": token})
    assert scoped.code == 0 and scoped.json_lines() == []

    audit = cw("audit", "list", "--json").json_lines()
    actions = [r["action"] for r in audit]
    assert {"zone.add", "event.add", "authorisation.request", "authorisation.approve"} <= set(actions)
    views = [(r["actor"], r["result_count"]) for r in audit if r["action"] == "alert.view"]
    assert views[-1] == ("olga", 0) and views[0][1] == len(alerts)  # looking is audited too
    modes = [r for r in audit if r["action"] == "camera.mode"]
    assert [m["params"]["mode"] for m in modes] == ["detect", "watchlist"]
    assert "identification is off in protected event assembly" in modes[0]["params"]["reasons"]
    assert modes[1]["authorisation"] == "W-2" and modes[1]["legal_basis"] == "warrant 2026/311"
    approvals = [r for r in audit if r["action"] == "authorisation.approve"]
    assert [(r["authorisation"], r["actor"], r["role"]) for r in approvals] == [
        ("W-1", "sam", "supervisor"),
        ("W-2", "sam", "supervisor"),
    ]
    assert next(r for r in audit if r["object"] == "authorisation:W-2")["params"]["events"] == ["assembly"]
    assert "audit log intact" in cw("audit", "verify").stdout


def summary(res: Result) -> dict[str, Any]:
    last = res.json_lines()[-1]
    assert last["type"] == "summary"
    return last
