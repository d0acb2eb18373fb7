"""The request commands in process (Typer's runner, the real app): file, list, refuse by the
filer is refused, approve by a supervisor produces an export that `export verify` accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime
from tests.fakes.accounts import own_token
from tests.integration.cli_helpers import cli_env
from tests.integration.cli_helpers import invoke as run


@pytest.fixture
def env(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key, value in cli_env(tmp_path, shared_data).items():
        monkeypatch.setenv(key, value)
    for key in [
        k
        for k in __import__("os").environ
        if k.startswith("CITYWATCH_") and k not in cli_env(tmp_path, shared_data)
    ]:
        monkeypatch.delenv(key)
    rt = Runtime(Settings(data_dir=tmp_path / "data"))
    rt.users.add_user("sam", "supervisor")
    token = own_token(rt.users, "sam", "test").token
    rt.close()
    yield {"CITYWATCH_TOKEN": token}


def _token_of(tmp_path: Path, name: str, role: str) -> str:
    rt = Runtime(Settings(data_dir=tmp_path / "data"))
    rt.users.add_user(name, role)
    token = own_token(rt.users, name, "test").token
    rt.close()
    return token


def test_file_approve_and_verify(env: dict[str, str], tmp_path: Path) -> None:
    code, text = run(
        *("request", "file", "--reference", "MET-7", "--requester", "DC Jones"),
        *("--camera", "gate", "--from", "2h", "--until", "1h"),
    )
    assert code == 3 and "no camera gate" in text  # neither configured nor recorded
    (tmp_path / "citywatch.yaml").write_text(f"cameras:\n  - id: gate\n    url: {tmp_path / 'none.mp4'}\n")
    env_cfg = {"CITYWATCH_CONFIG": str(tmp_path / "citywatch.yaml")}
    code, text = run(
        *("request", "file", "--reference", "MET-7", "--requester", "DC Jones"),
        *("--camera", "gate", "--from", "2h", "--until", "1h"),
        env=env_cfg,
    )
    assert code == 0 and "held (hold 1)" in text, text
    code, text = run("request", "list", "--json", env=env_cfg)
    (listed,) = [json.loads(line) for line in text.splitlines()]
    assert (listed["status"], listed["hold_id"]) == ("filed", 1)
    code, text = run("request", "approve", "1", env=env_cfg)  # the local filer: not a supervisor signed in
    assert code == 5 and "signed in" in text
    code, text = run("request", "approve", "1", env={**env_cfg, **env})
    # the local filer created sam's account: sam is not independent of them (two-person rule)
    assert code == 5 and "not independent" in text, text
    code, text = run("request", "refuse", "1", "--reason", "filed by the shell", env={**env_cfg, **env})
    assert code == 0, text

    ivy = {"CITYWATCH_TOKEN": _token_of(tmp_path, "ivy", "investigator")}
    code, text = run(
        *("request", "file", "--reference", "MET-8", "--requester", "DC Jones"),
        *("--camera", "gate", "--from", "2h", "--until", "1h"),
        env={**env_cfg, **ivy},
    )
    assert code == 0, text
    code, text = run("request", "approve", "2", env={**env_cfg, **env})  # filed by ivy, signed in
    assert code == 0 and "is now fulfilled" in text, text
    (package,) = (tmp_path / "data/exports").rglob("*.zip")
    code, text = run("export", "verify", str(package), env=env_cfg)
    assert code == 0 and "export intact" in text and "MET-8" in text
    package.write_bytes(package.read_bytes().replace(b"DC Jones", b"DC Smith"))
    code, text = run("export", "verify", str(package), env=env_cfg)
    assert code == 1  # "export NOT intact: …" goes to stderr


def test_subject_access_filing_explains_a_bad_photo(
    env: dict[str, str], tmp_path: Path, shared_data: Path
) -> None:
    (tmp_path / "citywatch.yaml").write_text(f"cameras:\n  - id: gate\n    url: {tmp_path / 'none.mp4'}\n")
    cfg = {"CITYWATCH_CONFIG": str(tmp_path / "citywatch.yaml")}
    base = (
        "request",
        "file",
        "--requester",
        "A. Person",
        "--camera",
        "gate",
        "--from",
        "2h",
        "--until",
        "1h",
    )
    examples = shared_data / "face_recognition/examples"
    code, text = run(*base, "--photo", str(examples / "two_people.jpg"), env=cfg)
    assert code == 2 and "several faces" in text and "yourself alone" in text, text
    blank = tmp_path / "blank.png"
    blank.write_bytes((examples / "two_people.jpg").read_bytes()[:200])  # a truncated image
    code, text = run(*base, "--photo", str(blank), env=cfg)
    assert code == 2 and "blank.png" in text, text
    code, text = run(*base, "--photo", str(examples / "obama.jpg"), "--reference", "X", env=cfg)
    assert code == 2 and "drop --reference" in text
    wide = (*base[:-4], "--from", "200h", "--until", "1h")
    code, text = run(*wide, "--photo", str(examples / "obama.jpg"), env=cfg)
    assert code == 2 and "at most 120 h" in text, text  # filing is no free search
    code, text = run(*base, "--photo", str(examples / "obama.jpg"), env=cfg)
    assert code == 0 and "was not found" in text and "held as for any request" in text, text
    code, text = run("request", "list", "--json", env=cfg)
    (listed,) = [json.loads(line) for line in text.splitlines()]
    assert (listed["kind"], listed["status"]) == ("subject_access", "filed")
    assert listed["hold_id"] is not None  # its scope is held whatever the search found (no side channel)
