"""An API in process for the governance and accountability tests: a Runtime on a tmp data
folder, one user per role with a token, and a TestClient that signs in as any of them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from citywatch.config.api import ApiSettings
from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.web.app import create_app
from tests.conftest import shared_data_dir
from tests.fakes.accounts import own_token

USERS = {
    "ada": "admin",
    "sam": "supervisor",
    "sue": "supervisor",
    "olga": "operator",
    "ian": "investigator",
    "aude": "auditor",
}
"""One user per role (two supervisors: the two-person rule needs a second one)."""


@dataclass
class Api:
    rt: Runtime
    client: TestClient
    tokens: dict[str, str]

    def call(self, method: str, path: str, user: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        response: httpx.Response = self.client.request(method, path, headers=headers, **kwargs)
        return response


def api_settings(tmp_path: Path, **api: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        models_dir=shared_data_dir() / "models",
        cameras=[CameraSettings(id="gate-1", url=str(tmp_path / "gate-1.mp4"))],
        api=ApiSettings(**api),
    )


def open_api(settings: Settings) -> Iterator[Api]:
    rt = build_runtime(settings)
    tokens = {}
    for name, role in USERS.items():
        rt.users.add_user(name, role)
        tokens[name] = own_token(rt.users, name, "test").token
    with TestClient(create_app(rt), raise_server_exceptions=True) as client:
        yield Api(rt, client, tokens)
    rt.close()
