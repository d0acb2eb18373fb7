"""`citywatch cameras` in process: list the file's camera and the records, add one (its
password read from standard input, never printed), show, change with a version, remove; the
file's camera is changed only there; an operator is refused (exit 5, audited); an id that
climbs out of its folder is refused (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime
from tests.fakes.accounts import own_token
from tests.integration.cli_helpers import Result, citywatch

SECRET = "s3cr3t-pw"


@pytest.fixture
def city(tmp_path: Path, shared_data: Path) -> tuple[Path, Path, str]:
    (tmp_path / "citywatch.yaml").write_text(f"cameras:\n  - id: gate\n    url: {tmp_path / 'gate.mp4'}\n")
    rt = Runtime(Settings(data_dir=tmp_path / "data"))
    rt.users.add_user("oli", "operator")
    token = own_token(rt.users, "oli").token
    rt.close()
    return tmp_path, shared_data, token


def cw(city: tuple[Path, Path, str], *args: str, stdin: str | None = None, token: bool = False) -> Result:
    workdir, data, operator = city
    env = {"CITYWATCH_CONFIG": str(workdir / "citywatch.yaml")}
    if token:
        env["CITYWATCH_TOKEN"] = operator
    return citywatch(workdir, data, "cameras", *args, env=env, stdin=stdin)


def test_camera_commands(city: tuple[Path, Path, str]) -> None:
    add = ("add", "dock", "-", "--name", "Dock", "--mode", "detect", "--location", "51.5,-0.12")
    added = cw(city, *add, "--source", "detect_fps=5", stdin=f"rtsp://viewer:{SECRET}@10.0.4.22/s\n")
    assert added.code == 0, added.stderr
    assert "camera dock added (version 1): rtsp://***@10.0.4.22/s, mode detect" in added.stdout
    listed = cw(city, "list", "--json").json_lines()
    assert [(c["id"], c["from_config"], c["version"]) for c in listed] == [
        ("gate", True, 0),
        ("dock", False, 1),
    ]
    assert listed[1]["source_url"] == "rtsp://***@10.0.4.22/s" and listed[1]["source"]["detect_fps"] == 5.0
    table = cw(city, "list")
    assert table.code == 0 and "gate" in table.stdout and "dock" in table.stdout  # (wrapped to the terminal)

    changed = cw(city, "change", "dock", "--mode", "watchlist", "--no-location", "--version", "1")
    assert changed.code == 0 and "camera dock is at version 2" in changed.stdout, changed.stderr
    stale = cw(city, "change", "dock", "--name", "late", "--version", "1")
    assert stale.code != 0 and "at version 2, not 1" in stale.stderr
    (shown,) = cw(city, "show", "dock", "--json").json_lines()
    assert (shown["mode"], shown["location"], shown["version"]) == ("watchlist", None, 2)
    assert "configuration file" in cw(city, "show", "gate").stdout

    file_camera = cw(city, "remove", "gate")
    assert file_camera.code != 0 and "declared in the configuration file" in file_camera.stderr
    removed = cw(city, "remove", "dock")
    assert removed.code == 0 and "camera dock removed (it was at version 2)" in removed.stdout
    assert [c["id"] for c in cw(city, "list", "--json").json_lines()] == ["gate"]
    everything = [added, table, changed, stale, removed]
    assert all(SECRET not in r.stdout + r.stderr for r in everything)

    rt = Runtime(Settings(data_dir=city[0] / "data"))
    try:
        actions = [e.action for e in rt.audit_log.entries() if e.object == "camera:dock"]
        assert actions == ["camera.add", "camera.change", "camera.remove"]
        assert SECRET not in str([e.params for e in rt.audit_log.entries()])
    finally:
        rt.close()


def test_an_operator_is_refused_and_audited(city: tuple[Path, Path, str]) -> None:
    refused = cw(city, "add", "dock", "/srv/dock.mp4", token=True)
    assert refused.code == 5 and "cameras.manage" in refused.stderr
    assert cw(city, "list", token=True).code == 0  # an operator reads the cameras
    rt = Runtime(Settings(data_dir=city[0] / "data"))
    try:
        (record,) = [e for e in rt.audit_log.entries() if e.action == "access.refused"]
        assert (record.actor, record.object) == ("oli", "command:citywatch cameras add")
    finally:
        rt.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "..", "/srv/x.mp4"), "invalid camera: id"),
        (("add", "x", "clips/x.mp4"), "absolute path"),
        (("add", "x", "/srv/x.mp4", "--location", "north"), "LAT,LON"),
        (("add", "x", "/srv/x.mp4", "--source", "replay"), "KEY=VALUE"),
        (("change", "../etc", "--name", "x"), "a camera id is"),
    ],
)
def test_a_camera_no_city_could_run_is_refused(
    city: tuple[Path, Path, str], args: tuple[str, ...], message: str
) -> None:
    refused = cw(city, *args)
    assert refused.code == 2 and message in refused.stderr, refused.stderr
