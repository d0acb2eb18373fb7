"""Users, tokens and sign-in through the real `citywatch` command, as an administrator would."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import Result, citywatch

PASSWORD = "a long enough password"


@pytest.fixture
def cw(tmp_path: Path) -> Any:
    """`citywatch` in tmp_path; no model is needed here, so no shared data either."""

    def run(*args: str, token: str | None = None, **kwargs: Any) -> Result:
        env = dict(kwargs.pop("env", {}))
        if token is not None:
            env["CITYWATCH_TOKEN"] = token
        return citywatch(tmp_path, tmp_path / "no-data", *args, env=env, timeout=60, **kwargs)

    return run


def audit(cw: Any) -> list[dict[str, Any]]:
    listed = cw("audit", "list", "--json")
    assert listed.code == 0, listed.stderr
    return listed.json_lines()


def issue(cw: Any, name: str) -> str:
    """A personal token `name` issues themselves, signed in with a password set for the purpose."""
    assert cw("user", "passwd", name, "--password-stdin", stdin=PASSWORD + "\n").code == 0
    issued = cw("user", "token", "issue", name, "--label", "test", "--password-stdin", stdin=PASSWORD + "\n")
    assert issued.code == 0, issued.stderr
    token: str = issued.stdout.strip()
    assert token.startswith("cw_")
    return token


def test_a_supervisor_signs_in_by_token_from_a_file(cw: Any, tmp_path: Path) -> None:
    added = cw("user", "add", "sam", "--role", "supervisor", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.code == 0, added.stderr
    # sam signs in with the password and writes the token to a file
    laptop = ("user", "token", "issue", "sam", "--label", "laptop", "--out", "sam.token", "--password-stdin")
    issued = cw(*laptop, stdin=PASSWORD + "\n")
    assert issued.code == 0, issued.stderr
    path = tmp_path / "sam.token"
    assert "wrote the token to sam.token (mode 0600)" in issued.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert token.startswith("cw_")
    assert token not in issued.stdout + issued.stderr
    again = cw(*laptop, stdin=PASSWORD + "\n")
    assert again.code == 2 and "already exists" in again.stderr

    me = cw("user", "whoami", token=token)
    assert me.code == 0, me.stderr
    assert me.stdout.strip() == "sam, role supervisor, cameras: all"
    (line,) = cw("user", "whoami", "--json", token=token + "\n").json_lines()
    assert line == {"type": "actor", "name": "sam", "role": "supervisor", "cameras": None, "service": False}
    assert "@local, role local" in cw("user", "whoami").stdout

    records = audit(cw)
    assert [r["action"] for r in records] == ["user.add", "user.login", "token.issue", "user.login"]
    assert records[2]["actor"] == "sam"  # issued by its owner, signed in as themselves


def test_an_operator_may_not_manage_users(cw: Any) -> None:
    assert cw("user", "add", "otto", "--role", "operator", "--no-password").code == 0
    token = issue(cw, "otto")
    refused = cw("user", "list", token=token)
    assert refused.code == 5
    assert "citywatch user list needs the users.manage permission, which role operator lacks" in (
        " ".join(refused.stderr.split())
    )
    assert refused.stdout == ""
    last = audit(cw)[-1]
    assert (last["action"], last["actor"], last["role"]) == ("access.refused", "otto", "operator")
    assert last["object"].endswith("citywatch user list")  # the command path as it was typed
    assert last["params"] == {"permission": "users.manage"}


def test_a_camera_scoped_user_may_not_watch_another_camera(cw: Any, tmp_path: Path) -> None:
    clip = str(tmp_path / "not-even-opened.mp4")
    assert cw("user", "add", "ada", "--role", "admin", "--camera", "gate-1", "--no-password").code == 0
    assert cw("user", "add", "olga", "--role", "operator", "--camera", "gate-1", "--no-password").code == 0
    ada, olga = issue(cw, "ada"), issue(cw, "olga")

    refused = cw("watch", clip, "--camera-id", "lobby", token=ada)
    assert refused.code == 5, refused.stderr
    message = " ".join(refused.stderr.split())
    assert "ada may not use camera(s) lobby (limited to: gate-1)" in message
    operator = cw("watch", clip, "--camera-id", "lobby", token=olga)
    assert operator.code == 5  # an operator may not run cameras at all

    records = audit(cw)
    admin_refused, operator_refused = records[-2:]
    assert (admin_refused["action"], admin_refused["actor"]) == ("access.refused", "ada")
    assert admin_refused["object"].endswith("citywatch watch")
    assert admin_refused["params"] == {"permission": "cameras.run", "cameras": ["lobby"]}
    assert (operator_refused["action"], operator_refused["actor"]) == ("access.refused", "olga")
    assert not any(r["action"] == "camera.start" for r in records)


def test_a_bad_token_is_refused_and_audited(cw: Any) -> None:
    refused = cw("user", "whoami", token="cw_not-a-real-token")
    assert refused.code == 5
    assert "unknown API token: not signed in" in refused.stderr
    assert cw("version", token="cw_not-a-real-token").code == 0  # nothing to sign in for
    assert cw("user", "add", "rita", "--role", "auditor", "--no-password").code == 0
    token = issue(cw, "rita")
    assert cw("user", "disable", "rita").code == 0
    gone = cw("audit", "list", token=token)
    assert gone.code == 5 and "was revoked" in gone.stderr
    records = audit(cw)
    failed = [r for r in records if r["action"] == "user.login_failed"]
    assert [r["params"]["reason"] for r in failed] == ["unknown", "revoked"]
    assert "cw_not-a-real-token" not in json.dumps(records)


def test_sign_in_by_password(cw: Any) -> None:
    added = cw("user", "add", "ivy", "--role", "investigator", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.code == 0, added.stderr
    me = cw("--user", "ivy", "user", "whoami", env={"CITYWATCH_PASSWORD": PASSWORD})
    assert me.code == 0, me.stderr
    assert me.stdout.strip() == "ivy, role investigator, cameras: all"
    asked = cw("--user", "ivy", "user", "whoami", stdin=PASSWORD + "\n")  # the hidden prompt
    assert asked.code == 0, asked.stderr
    wrong = cw("--user", "ivy", "user", "whoami", env={"CITYWATCH_PASSWORD": "not the password"})
    assert wrong.code == 5
    assert "sign-in failed: unknown user name or wrong password" in wrong.stderr
    nobody = cw("--user", "nobody", "user", "whoami", env={"CITYWATCH_PASSWORD": PASSWORD})
    assert nobody.code == 5 and nobody.stderr == wrong.stderr
    both = cw("--user", "ivy", "user", "whoami", token="cw_x", env={"CITYWATCH_PASSWORD": PASSWORD})
    assert both.code == 2 and "not both" in both.stderr
    records = audit(cw)
    actions = [(r["action"], r["object"]) for r in records]
    assert actions == [
        ("user.add", "user:ivy"),
        ("user.login", "user:ivy"),
        ("user.login", "user:ivy"),
        ("user.login_failed", "user:ivy"),
        ("user.login_failed", "user:nobody"),
    ]
    assert PASSWORD not in json.dumps(records)


def test_user_administration(cw: Any) -> None:
    assert cw("user", "add", "bo", "--role", "operator", "--no-password").code == 0
    assert cw("user", "role", "bo", "supervisor").code == 0
    assert cw("user", "cameras", "bo", "--camera", "b", "--camera", "a").code == 0
    assert cw("user", "passwd", "bo", "--password-stdin", stdin=PASSWORD + "\n").code == 0
    (user,) = cw("user", "list", "--json").json_lines()
    assert (user["role"], user["cameras"], user["has_password"]) == ("supervisor", ["a", "b"], True)
    assert cw("user", "cameras", "bo", "--all").code == 0
    table = cw("user", "list")
    assert "bo" in table.stdout and "supervisor" in table.stdout and "all" in table.stdout
    assert cw("user", "token", "issue", "bo", "--label", "x", "--service").code == 0
    assert cw("user", "token", "revoke", "1").code == 0
    listed = cw("user", "token", "list", "--json").json_lines()
    assert [(t["id"], t["service"], t["revoked_at"] is not None) for t in listed] == [(1, True, True)]

    neither = cw("user", "cameras", "bo")  # --camera or --all: never a silent "every camera"
    assert neither.code == 2 and "one or the other" in neither.stderr
