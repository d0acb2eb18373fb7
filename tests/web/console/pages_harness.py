"""The console in process for the people, orders and case search page tests: a Runtime on a
tmp data folder with two placed cameras, one user per role (some limited to a camera), each
signed in by the console's own session cookie as a browser is."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from citywatch.audit.chain import AuditEntry
from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.policy import AuthorisationStatus, ProcessingMode
from citywatch.governance.records import NewAuthorisation
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.web.api.auth import SESSION_COOKIE
from citywatch.web.app import create_app
from tests.conftest import shared_data_dir

PASSWORD = "a long enough password"
USERS: dict[str, tuple[str, list[str] | None]] = {
    "ada": ("admin", None),
    "sam": ("supervisor", None),
    "sue": ("supervisor", None),
    "sol": ("supervisor", ["gate-1"]),
    "olga": ("operator", ["gate-1"]),
    "ian": ("investigator", None),
    "ivy": ("investigator", ["gate-1"]),
    "aude": ("auditor", None),
}
"""One user per role, two supervisors (the two-person rule), and some limited to gate-1."""

GATE = (51.5007, -0.1246)
HALL = (51.5100, -0.1300)
ORIGIN = {"Origin": "http://testserver"}
"""What a browser sends with a state-changing request from the console's own pages."""


@dataclass
class Console:
    rt: Runtime
    client: TestClient
    sessions: dict[str, str]

    def page(self, path: str, user: str | None) -> httpx.Response:
        """A console page as `user`'s browser gets it (None: not signed in)."""
        self._as(user)
        html = {"Accept": "text/html"}
        response: httpx.Response = self.client.get(path, headers=html, follow_redirects=False)
        return response

    def api(self, method: str, path: str, user: str, **kwargs: Any) -> httpx.Response:
        """An API call from `user`'s console page: the session cookie and the page's origin."""
        self._as(user)
        headers = {**ORIGIN, **(kwargs.pop("headers", None) or {})}
        response: httpx.Response = self.client.request(method, path, headers=headers, **kwargs)
        return response

    def audited(self, action: str) -> list[AuditEntry]:
        return [e for e in self.rt.audit_log.entries() if e.action == action]

    def authorise(
        self, reference: str, cameras: list[str], *, watchlists: tuple[str, ...] = (), approve: bool = True
    ) -> None:
        """An authorisation requested by one supervisor and (unless not `approve`) approved by another."""
        now = datetime.now(UTC)
        self.rt.governance.request(
            NewAuthorisation(
                reference=reference,
                issuer="District Court",
                legal_basis=f"warrant {reference}",
                objective=f"case under {reference}",
                cameras=cameras,
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=1),
                watchlists=watchlists,
            ),
            by=Actor("sam", "supervisor"),
            urgent_deadline=timedelta(hours=24),
        )
        if approve:
            self.rt.governance.decide(reference, AuthorisationStatus.APPROVED, by=Actor("sue", "supervisor"))

    def _as(self, user: str | None) -> None:
        self.client.cookies.clear()
        if user is not None:
            self.client.cookies.set(SESSION_COOKIE, self.sessions[user])


def console_settings(tmp_path: Path, **overrides: Any) -> Settings:
    cameras = [
        CameraSettings(
            id="gate-1", name="North gate", url="rtsp://gate", mode=ProcessingMode.WATCHLIST, location=GATE
        ),
        CameraSettings(id="hall-2", name="Town hall", url="rtsp://hall", location=HALL),
    ]
    settings: dict[str, Any] = {"models_dir": shared_data_dir() / "models", "cameras": cameras, **overrides}
    return Settings(data_dir=tmp_path / "data", **settings)


def open_console(settings: Settings) -> Iterator[Console]:
    rt = build_runtime(settings)
    sessions = {}
    for name, (role, scope) in USERS.items():
        rt.users.add_user(name, role, cameras=scope)
        rt.users.set_password(name, PASSWORD)
        sessions[name] = rt.users.open_session(name, PASSWORD, timedelta(hours=1)).token
    with TestClient(create_app(rt), raise_server_exceptions=True) as client:
        yield Console(rt, client, sessions)
    rt.close()
