"""The console served as `citywatch run` serves it: a Runtime on a tmp data folder, a real
uvicorn on a free port in this process, one user per role with a password, and Debian's
chromium driven by Playwright's sync API. Helpers only; the fixtures are in conftest.py."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citywatch.config.api import ApiSettings
from citywatch.config.ingest import CameraSettings, SourceSettings
from citywatch.config.recording import RecordingSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.policy import AuthorisationStatus, ProcessingMode
from citywatch.governance.records import NewAuthorisation
from citywatch.pipeline.worker import CameraWorker
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.watchlists.enrolment import Enrolment
from citywatch.web.api.server import ApiServer
from citywatch.web.app import create_app
from tests.conftest import shared_data_dir

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path(os.environ.get("CITYWATCH_CHROMIUM", "/usr/bin/chromium"))
"""Debian's chromium, installed by `make install` (Playwright's own download is not used);
CITYWATCH_CHROMIUM names another build of it."""
CHROMIUM_ARGS = [
    "--no-sandbox",  # runs as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # the network is closed: no update checks, no sync, no background fetches
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

USERS = {
    "ada": "admin",
    "sam": "supervisor",
    "sue": "supervisor",
    "olga": "operator",
    "otto": "operator",
    "ian": "investigator",
    "aude": "auditor",
}
"""One user per role; two supervisors and two operators for the two-person rule."""
PASSWORDS = {name: f"{name}-correct-horse-battery" for name in USERS}

LIN = "Lin-Manuel Miranda"
STAGE = "stage"
AUTHORISATION = "W-2026-7"


def clip(data: Path) -> Path:
    return data / "face_recognition/examples/short_hamilton_clip.mp4"


def lin_photo(data: Path) -> Path:
    return data / "face_recognition/examples/lin-manuel-miranda.png"


def console_settings(
    tmp: Path, data: Path | None = None, *, replay: bool = True, recording: bool = False, **api: Any
) -> Settings:
    """A data folder of its own; with the shared data, the `stage` camera on the Hamilton clip
    (played at its own speed, as a live camera, when `replay`)."""
    cameras = []
    if data is not None:
        cameras = [
            CameraSettings(
                id=STAGE,
                name="Richard Rodgers Theatre, stage",
                url=str(clip(data)),
                mode=ProcessingMode.WATCHLIST,
                location=(40.7590, -73.9870),
                source=SourceSettings(replay=replay),
            )
        ]
    return Settings(
        data_dir=tmp / "data",
        models_dir=(shared_data_dir() if data is None else data) / "models",
        cameras=cameras,
        recording=RecordingSettings(enabled=recording),
        api=ApiSettings(port=0, heartbeat_s=1, shutdown_s=1, logins_per_15min=1000, **api),
    )


@dataclass
class Console:
    rt: Runtime
    url: str

    def at(self, path: str) -> str:
        return f"{self.url}{path}"


@contextmanager
def serve(settings: Settings) -> Iterator[Console]:
    """The app on a real server (the live feed needs one), the users added; camera workers
    the test started are stopped before the server."""
    rt = build_runtime(settings)
    for name, role in USERS.items():
        rt.users.add_user(name, role, password=PASSWORDS[name])
    server = ApiServer(create_app(rt), settings.api, rt.feed)
    server.start()
    try:
        yield Console(rt, server.url)
    finally:
        for worker in rt.live.workers():
            worker.stop()
            worker.join(10)
        server.stop()
        rt.close()


def watch_for_lin(rt: Runtime, data: Path) -> str:
    """Lin-Manuel Miranda on the default watchlist, and an authorisation for the stage camera
    bound to it: requested by Sam, approved by Sue. Returns the authorisation's reference."""
    Enrolment(
        store=rt.watchlists, detector=rt.detector, embedder=rt.embedder, quality=rt.settings.quality
    ).enroll(
        name=LIN,
        images=[lin_photo(data)],
        watchlist="default",
        source="face_recognition example image",
        legal_basis="browser test",
        proposer=None,
    )
    now = datetime.now(UTC)
    rt.governance.request(
        NewAuthorisation(
            reference=AUTHORISATION,
            issuer="Test Court",
            legal_basis="warrant 2026/7",
            objective="find L.-M. M. at the theatre",
            cameras=[STAGE],
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
        ),
        by=Actor("sam", "supervisor"),
        urgent_deadline=timedelta(hours=24),
    )
    rt.governance.decide(AUTHORISATION, AuthorisationStatus.APPROVED, by=Actor("sue", "supervisor"))
    rt.governance.bind_watchlist("default", AUTHORISATION, by=Actor("sam", "supervisor"))
    rt.policy.refresh()
    return AUTHORISATION


def play(rt: Runtime) -> CameraWorker:
    """Start the stage camera's worker in this process, so its alerts reach the live feed."""
    worker = rt.camera_worker(rt.settings.cameras[0])
    worker.start()
    return worker


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s")


def sign_in(page: Page, console: Console, name: str, password: str | None = None) -> None:
    """The sign-in form, as a person fills it in; ends on the page the console sends them to."""
    page.goto(console.at("/login"))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name] if password is None else password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def path_of(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)
