"""The order commands in process: create (a bad area explained, an operator refused), list
with the warning about cameras that have no location, notes on an alert, end with its receipt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from citywatch.config.settings import Settings
from citywatch.domain.records import NewReference
from citywatch.runtime.build import Runtime
from tests.fakes.accounts import own_token
from tests.integration.cli_helpers import authorise, cli_env
from tests.integration.cli_helpers import invoke as run

JPEG = b"\xff\xd8\xff\xe0 stub"


@pytest.fixture
def cfg(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key, value in cli_env(tmp_path, shared_data).items():
        monkeypatch.setenv(key, value)
    (tmp_path / "citywatch.yaml").write_text(
        "cameras:\n"
        f"  - id: gate\n    url: {tmp_path / 'none.mp4'}\n    mode: watchlist\n"
        "    location: [51.5155, -0.0922]\n"
        f"  - id: lobby\n    url: {tmp_path / 'none.mp4'}\n    mode: watchlist\n"
    )
    rt = Runtime(Settings(data_dir=tmp_path / "data"))
    rt.watchlists.ensure_watchlist("home", "stay_at_home")
    vector = np.linspace(-1, 1, 128).astype(np.float32)
    rt.watchlists.enroll(
        [NewReference(JPEG, ".jpg", "court file", "public health order", rt.embedder.name, vector)],
        watchlist_name="home",
        display_name="Pat",
    )
    rt.users.add_user("oli", "operator")
    token = own_token(rt.users, "oli", "test").token
    rt.close()
    yield {"CITYWATCH_CONFIG": str(tmp_path / "citywatch.yaml"), "OPERATOR_TOKEN": token}


def test_order_commands(cfg: dict[str, str], tmp_path: Path) -> None:
    env = {"CITYWATCH_CONFIG": cfg["CITYWATCH_CONFIG"]}
    create = ("order", "create", "Pat", "--legal-reference", "HPA 2026/7", "--authority", "city health")
    window = ("--from", "1h", "--until", "+14d")
    code, text = run(*create, *window, "--center", "51.5007,-0.1246", env=env)
    assert code == 2 and "--radius-m" in text
    code, text = run(*create, *window, "--center", "51.5007,-0.1246", "--radius-m", "150",
                     env={**env, "CITYWATCH_TOKEN": cfg["OPERATOR_TOKEN"]})  # fmt: skip
    assert code == 5 and "orders.manage" in text
    code, text = run(*create, *window, "--center", "51.5007,-0.1246", "--radius-m", "150", env=env)
    assert code == 0 and "order 1: Pat to stay within 150 m" in text, text
    assert "no camera checks it now" in text and "bound to watchlist home" in text
    authorise(tmp_path, ["gate", "lobby"], watchlist="home")
    code, text = run("order", "list", env=env)
    assert "order 1 is checked by camera(s) gate\n" in text, text
    assert "camera(s) lobby identify against home but have no location" in text
    code, text = run("order", "list", "--json", env=env)
    (listed,) = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert listed["order"]["person_name"] == "Pat" and listed["order"]["status"] == "active"
    code, text = run("order", "note", "99", "--kind", "notice", "--text", "letter sent", env=env)
    assert code == 3 and "no alert 99" in text
    code, text = run("order", "end", "1", env=env)
    assert code == 0 and "order 1 (Pat) ended: 1 template(s) deleted" in text, text
    code, text = run("order", "end", "1", env=env)
    assert code != 0 and "already ended" in text
