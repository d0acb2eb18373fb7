"""Behind a reverse proxy: the per-address sign-in limit counts each client named by the
proxy's X-Forwarded-For, only when the proxy is trusted (`api.trusted_proxies`); otherwise
the header is ignored and the connection's own address is counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from citywatch.config.api import ApiSettings
from citywatch.config.settings import Settings
from citywatch.runtime.build import build_runtime
from citywatch.web.api.server import ApiServer
from citywatch.web.app import create_app


def serve(tmp_path: Path, trusted: list[str]) -> Iterator[str]:
    api = ApiSettings(enabled=True, port=0, shutdown_s=1, logins_per_15min=2, trusted_proxies=trusted)
    rt = build_runtime(Settings(data_dir=tmp_path / "data", api=api))
    server = ApiServer(create_app(rt), api, rt.feed)
    server.start()
    yield server.url
    server.stop()
    rt.close()


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, ["127.0.0.1"])


@pytest.fixture
def no_proxy_trusted(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, [])


def sign_in_from(url: str, client: str) -> int:
    body = {"name": "nobody", "password": "not a password at all"}
    return httpx.post(f"{url}/api/session", json=body, headers={"X-Forwarded-For": client}).status_code


def test_a_trusted_proxy_has_each_client_counted_on_its_own(behind_proxy: str) -> None:
    assert [sign_in_from(behind_proxy, "203.0.113.7") for _ in range(3)] == [403, 403, 429]
    assert sign_in_from(behind_proxy, "198.51.100.9") == 403  # another client behind the proxy


def test_an_untrusted_sender_cannot_pick_its_address(no_proxy_trusted: str) -> None:
    assert [sign_in_from(no_proxy_trusted, "203.0.113.7") for _ in range(2)] == [403, 403]
    assert sign_in_from(no_proxy_trusted, "198.51.100.9") == 429  # the header is ignored
