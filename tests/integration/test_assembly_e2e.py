"""End to end on the Hamilton clip, all through the CLI: a registered assembly over the stage
camera turns identification (and so alerts) off; an authorisation that names the assembly
turns it back on; an urgent authorisation refused by the supervisor takes what was derived
under it along; each step is decided by a second person and leaves audit records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import Result, citywatch

LIN = "Lin-Manuel Miranda"
AUTH = ("--issuer", "Magistrates' Court", "--legal-basis", "warrant 2026/311", "--objective", "find L.M.M.")


CW = Callable[..., Result]


@pytest.fixture
def cw(tmp_path: Path, shared_data: Path) -> CW:
    """`citywatch` in tmp_path, failing the test on a non-zero exit; as_supervisor signs in as
    Sam. Sam is added, and Lin-Manuel Miranda enrolled with Sam's approval (two-person rule)."""

    def run(*args: str, as_supervisor: bool = False, as_admin: bool = False) -> Result:
        who = "sam" if as_supervisor else "ada" if as_admin else None
        env = None if who is None else {"CITYWATCH_TOKEN": (tmp_path / f"{who}.token").read_text().strip()}
        res = citywatch(tmp_path, shared_data, *args, env=env)
        assert res.code == 0, f"citywatch {' '.join(args)}: {res.stderr}"
        return res

    # Ada starts the two-person steps, Sam completes them: each signs in and issues their own
    # token, and the shell user who made both accounts is neither of the two
    for name, role in (("ada", "admin"), ("sam", "supervisor")):
        password = f"{name}'s own password"
        assert (
            citywatch(
                tmp_path,
                shared_data,
                "user",
                "add",
                name,
                "--role",
                role,
                "--password-stdin",
                stdin=password + "\n",
            ).code
            == 0
        )
        token = tmp_path / f"{name}.token"
        issued = citywatch(
            tmp_path,
            shared_data,
            "user",
            "token",
            "issue",
            name,
            "--label",
            "e2e",
            "--out",
            str(token),
            "--password-stdin",
            stdin=password + "\n",
        )
        assert issued.code == 0, issued.stderr
    ex = shared_data / "face_recognition/examples"
    run(
        "enroll",
        str(ex / "lin-manuel-miranda.png"),
        "--name",
        LIN,
        "--source",
        "face_recognition example image",
        "--legal-basis",
        "test fixture",
        as_admin=True,
    )
    (change,) = run("changes", "list", "--json").json_lines()
    run("changes", "approve", str(change["id"]), as_supervisor=True)
    return run


@pytest.mark.slow
def test_an_assembly_turns_alerts_off_until_an_authorisation_names_it(
    cw: CW, tmp_path: Path, shared_data: Path
) -> None:
    clip = str(shared_data / "face_recognition/examples/short_hamilton_clip.mp4")

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
        as_admin=True,
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
        as_admin=True,
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
    olga_signs_in = {"stdin": "olga's own password\n"}
    added = citywatch(
        tmp_path,
        shared_data,
        "user",
        "add",
        "olga",
        "--role",
        "operator",
        "--camera",
        "gate",
        "--password-stdin",
        **olga_signs_in,
    )
    assert added.code == 0, added.stderr
    issued = citywatch(
        tmp_path,
        shared_data,
        "user",
        "token",
        "issue",
        "olga",
        "--label",
        "e2e",
        "--out",
        str(tmp_path / "olga.token"),
        "--password-stdin",
        **olga_signs_in,
    )
    assert issued.code == 0, issued.stderr
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


@pytest.mark.slow
def test_a_refused_urgent_authorisation_takes_its_sightings_and_alerts_along(
    cw: CW, shared_data: Path
) -> None:
    clip = str(shared_data / "face_recognition/examples/short_hamilton_clip.mp4")
    requested = cw(
        *("authorisations", "request", "U-1", *AUTH, "--camera", "stage", "--watchlist", "default"),
        *("--until", "+1d", "--urgent"),
        as_admin=True,
    )
    assert "urgent: in force now" in requested.stdout
    watched = summary(cw("watch", clip, "--camera-id", "stage", "--json"))
    assert watched["mode"] == "watchlist" and watched["alerts"] >= 1

    refused = cw("authorisations", "refuse", "U-1", "--note", "no grounds", as_supervisor=True)
    assert f"deleted {watched['sightings']} sighting(s)" in refused.stdout
    assert cw("alerts", "list", "--json").json_lines() == []
    receipt = [r for r in cw("audit", "list", "--json").json_lines() if r["action"].startswith("receipt.")]
    assert [(r["action"], r["actor"], r["params"]["reason"]) for r in receipt] == [
        ("receipt.authorisation", "citywatch@system", "refused")
    ]
    assert len(receipt[0]["params"]["crop_sha256s"]) == watched["sightings"]
    again = summary(cw("watch", clip, "--camera-id", "stage", "--json"))
    assert again["mode"] == "detect" and again["sightings"] == 0
