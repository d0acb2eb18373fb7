"""The console in process for its page tests: the API harness (tests/web/api/harness.py) over
cameras with places, plus an operator limited to one camera, each user signed in by the
session cookie a browser gets from POST /api/session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.policy import ProcessingMode
from citywatch.web.api.auth import SESSION_COOKIE
from tests.alerts.delivery.test_feed import raise_alert
from tests.web.api.harness import Api, api_settings, open_api

PASSWORD = "a long enough password"
SCOPED = "oscar"
"""An operator limited to gate-1."""

CAMERAS = [
    CameraSettings(
        id="gate-1",
        name="North gate",
        url="rtsp://gate",
        mode=ProcessingMode.WATCHLIST,
        location=(51.5010, -0.1250),
    ),
    CameraSettings(
        id="hall-2",
        name="Town hall",
        url="rtsp://hall",
        mode=ProcessingMode.DETECT,
        location=(51.5030, -0.1200),
    ),
    CameraSettings(id="roof-3", name="Roof", url="rtsp://roof"),
]


def console_settings(tmp_path: Path, **api: Any) -> Settings:
    return api_settings(tmp_path, **api).model_copy(update={"cameras": CAMERAS})


@dataclass
class Console:
    api: Api
    cookies: dict[str, str] = field(default_factory=dict)
    tracks: int = 0

    @property
    def rt(self) -> Any:
        return self.api.rt

    def sign_in(self, user: str) -> str:
        """A browser's sign-in: the password form's API call, keeping the cookie it sets."""
        if user not in self.cookies:
            self.rt.users.set_password(user, PASSWORD)
            self.api.client.cookies.clear()
            response = self.api.client.post("/api/session", json={"name": user, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.cookies[user] = response.cookies[SESSION_COOKIE]
        return self.cookies[user]

    def get(self, path: str, user: str | None, accept: str = "text/html") -> httpx.Response:
        """GET as `user`'s browser (None: no session), asking for a page by default."""
        self.api.client.cookies.clear()
        if user is not None:
            self.api.client.cookies.set(SESSION_COOKIE, self.sign_in(user))
        return self.api.client.get(path, follow_redirects=False, headers={"Accept": accept})

    def post(self, path: str, user: str, **kwargs: Any) -> httpx.Response:
        """POST as `user`'s browser from the console's own page (same origin)."""
        self.api.client.cookies.clear()
        self.api.client.cookies.set(SESSION_COOKIE, self.sign_in(user))
        headers = {"Origin": "http://testserver", **kwargs.pop("headers", {})}
        return self.api.client.post(path, headers=headers, **kwargs)

    def alert(self, camera_id: str) -> int:
        self.tracks += 1
        return raise_alert(self.rt, camera_id=camera_id, track_id=self.tracks)

    def audited(self, action: str) -> list[Any]:
        return [e for e in self.rt.audit_log.entries() if e.action == action]


def open_console(settings: Settings) -> Iterator[Console]:
    for api in open_api(settings):
        api.rt.users.add_user(SCOPED, "operator", cameras=["gate-1"])
        yield Console(api)
