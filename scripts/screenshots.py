"""Screenshots of the console's main pages for the README (`make screenshots`).

Serves the console as `citywatch run` does, on a throwaway data folder, with the data an
accountable deployment would have after a morning's work: Lin-Manuel Miranda enrolled
(proposed by one person, approved by another), an approved authorisation for the stage
camera, the Hamilton clip watched (alerts, one confirmed by two people), a stay-at-home
order, zones on the map, a case search and its hold, a police request and a member of the
public's request, an approved request's export, and the audit log verified. Everything is
seeded through the REST API (or the console itself, in Debian's chromium), then each page
is saved as a PNG.

    .venv/bin/python scripts/screenshots.py --data ../shared/data --out docs/screenshots
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, ViewportSize, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from citywatch.config.alerts import AlertSettings
from citywatch.config.api import ApiSettings
from citywatch.config.ingest import CameraSettings, SourceSettings
from citywatch.config.recording import RecordingSettings
from citywatch.config.settings import Settings
from citywatch.domain.policy import ProcessingMode
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.web.api.server import ApiServer
from citywatch.web.app import create_app

log = logging.getLogger("screenshots")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 860}
MAX_HEIGHT = 2400
"""A long page is cut here: the README shows the top of it."""

USERS = {
    "ada": "admin",
    "sam": "supervisor",
    "sue": "supervisor",
    "olga": "operator",
    "ian": "investigator",
    "aude": "auditor",
}
PASSWORD = "correct-horse-battery-{}"  # noqa: S105 (throwaway users on a throwaway data folder)
LIN, ALEX = "Lin-Manuel Miranda", "Alex Lacamoire"
THEATRE = (40.75903, -73.98700)  # Richard Rodgers Theatre, 226 W 46th St
LOBBY = (40.75928, -73.98652)
CASE = "C-2026-42"
AUTHORISATION = "W-2026-7"


def settings_for(work: Path, data: Path) -> Settings:
    clip = str(data / "face_recognition/examples/short_hamilton_clip.mp4")
    live = SourceSettings(replay=True)
    return Settings(
        data_dir=work / "data",
        models_dir=data / "models",
        cameras=[
            CameraSettings(
                id="stage",
                name="Theatre stage",
                url=clip,
                mode=ProcessingMode.WATCHLIST,
                location=THEATRE,
                source=live,
            ),
            CameraSettings(
                id="lobby",
                name="Theatre lobby",
                url=clip,
                mode=ProcessingMode.DETECT,
                location=LOBBY,
                source=live,
            ),
            CameraSettings(id="box-office", name="Box office", url=clip, mode=ProcessingMode.OFF),
        ],
        alerts=AlertSettings(cooldown_s=0),  # every matching track alerts: a fuller feed
        recording=RecordingSettings(enabled=True),
        api=ApiSettings(port=0, logins_per_15min=1000, shutdown_s=1),
    )


class Api:
    """The REST API as each user calls it, with their bearer token."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self._client = httpx.Client(base_url=url, timeout=300)
        self._tokens = tokens

    def __call__(self, user: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(
            method, path, headers={"Authorization": f"Bearer {self._tokens[user]}"}, **kwargs
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} as {user}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def close(self) -> None:
        self._client.close()


@contextmanager
def serve(settings: Settings) -> Iterator[tuple[Runtime, str, Api]]:
    rt = build_runtime(settings)
    tokens = {}
    for name, role in USERS.items():
        rt.users.add_user(name, role, password=PASSWORD.format(name))
        tokens[name] = rt.users.issue_own_token(name, PASSWORD.format(name), "screenshots").token
    server = ApiServer(create_app(rt), settings.api, rt.feed)
    server.start()
    api = Api(server.url, tokens)
    try:
        yield rt, server.url, api
    finally:
        api.close()
        for worker in rt.live.workers():
            worker.stop()
            worker.join(10)
        server.stop()
        rt.close()


def enrol(api: Api, data: Path, name: str, photo: str, watchlist: str, **fields: str) -> None:
    """Proposed by Ada, approved by Sam: the two-person rule."""
    with (data / "face_recognition/examples" / photo).open("rb") as image:
        enrolled = api(
            "ada",
            "POST",
            "/api/persons",
            data={
                "name": name,
                "watchlist": watchlist,
                "source": "face_recognition example image",
                "legal_basis": "demonstration on public sample images",
                **fields,
            },
            files={"images": (photo, image, "image/png")},
        )
    api("sam", "POST", f"/api/changes/{enrolled['change_id']}/approve")


def seed_governance(api: Api, data: Path) -> None:
    now = datetime.now(UTC)
    enrol(api, data, LIN, "lin-manuel-miranda.png", "default")
    api("ada", "POST", "/api/watchlists", json={"name": "home-orders", "category": "stay_at_home"})
    enrol(api, data, ALEX, "alex-lacamoire.png", "home-orders", category="stay_at_home")
    square = [(40.7582, -73.9885), (40.7600, -73.9893), (40.7606, -73.9861), (40.7588, -73.9852)]
    api(
        "ada",
        "POST",
        "/api/zones",
        json={"name": "theatre-district", "polygon": [{"lat": a, "lon": b} for a, b in square]},
    )
    chapel = [(40.7596, -73.9857), (40.7601, -73.9860), (40.7603, -73.9853), (40.7598, -73.9850)]
    api(
        "ada",
        "POST",
        "/api/zones",
        json={"name": "st-malachy", "polygon": [{"lat": a, "lon": b} for a, b in chapel], "protected": True},
    )
    api(
        "ada",
        "POST",
        "/api/events",
        json={
            "name": "matinee",
            "zone": "theatre-district",
            "starts_at": (now + timedelta(hours=3)).isoformat(),
            "ends_at": (now + timedelta(hours=6)).isoformat(),
        },
    )
    api(
        "sam",
        "POST",
        "/api/authorisations",
        json={
            "reference": AUTHORISATION,
            "issuer": "Manhattan Criminal Court",
            "legal_basis": "search warrant 2026/7",
            "objective": "locate L.-M. M. for questioning",
            "cameras": ["stage"],
            "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=2)).isoformat(),
            "watchlists": ["default", "home-orders"],
        },
    )
    api("sue", "POST", f"/api/authorisations/{AUTHORISATION}/approve", json={})
    api(
        "sam",
        "POST",
        "/api/orders",
        json={
            "person": ALEX,
            "legal_reference": "NYC Health Order 2026/311",
            "issuing_authority": "NYC Department of Health",
            "ends_at": (now + timedelta(days=14)).isoformat(),
            "area": {"center": {"lat": 40.8075, "lon": -73.9626}, "radius_m": 200},
        },
    )


def watch_the_clip(rt: Runtime) -> tuple[datetime, datetime]:
    """The whole clip through the stage camera at full speed (sightings, alerts, footage);
    returns the minutes around it."""
    started = datetime.now(UTC).replace(microsecond=0)
    stage = rt.settings.cameras[0]
    worker = rt.camera_worker(stage.model_copy(update={"source": SourceSettings(replay=False)}))
    worker.start()
    if not worker.join(300):
        raise RuntimeError("the clip was not watched within 5 minutes")
    return started - timedelta(seconds=20), datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=20)


def seed_alerts(api: Api) -> None:
    alerts = api("olga", "GET", "/api/alerts")["items"]
    if not alerts:
        raise RuntimeError("the clip raised no alert")
    oldest, *rest = sorted(alerts, key=lambda a: a["id"])
    api("olga", "POST", f"/api/alerts/{oldest['id']}/confirm")
    api("sam", "POST", f"/api/alerts/{oldest['id']}/confirm")
    if rest:
        api("olga", "POST", f"/api/alerts/{rest[0]['id']}/acknowledge")
    if len(rest) > 1:
        api("olga", "POST", f"/api/alerts/{rest[1]['id']}/confirm")


def seed_records(api: Api) -> None:
    now = datetime.now(UTC)
    sightings = api("ian", "GET", "/api/sightings", params={"camera": "stage"})["items"]
    api(
        "ian",
        "POST",
        "/api/holds",
        json={
            "reference": f"case:{CASE}",
            "reason": "evidence: L.-M. M. seen on stage during the warrant's window",
            "cameras": ["stage"],
            "starts_at": (now - timedelta(minutes=30)).isoformat(),
            "ends_at": now.isoformat(),
            "items": [{"kind": "sighting", "id": s["id"]} for s in sightings[:3]],
        },
    )
    api(
        "ian",
        "POST",
        "/api/requests",
        json={
            "reference": "NYPD-2026-5531",
            "requester": "NYPD Midtown North, Det. Shaw",
            "contact": "det.shaw@example.org",
            "cameras": ["stage"],
            "starts_at": (now - timedelta(minutes=30)).isoformat(),
            "ends_at": now.isoformat(),
        },
    )


def approve_first_request(api: Api) -> None:
    """Sam reviews and approves the police request: its export package is made."""
    requests = api("sam", "GET", "/api/requests")["items"]
    police = next(r for r in requests if r["reference"] == "NYPD-2026-5531")
    api("sam", "POST", f"/api/requests/{police['id']}/review")
    api("sam", "POST", f"/api/requests/{police['id']}/approve")


class Shots:
    def __init__(self, out: Path, url: str, new_page: Callable[[], Page]) -> None:
        self.out, self.url, self._new_page = out, url, new_page
        out.mkdir(parents=True, exist_ok=True)

    def page_as(self, user: str | None) -> Page:
        page = self._new_page()
        # what the browser saw go wrong (a CSP violation is a console error) is said, not hidden
        page.on("console", lambda m: log.warning("%s: %s", page.url, m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: log.warning("%s: uncaught %s", page.url, e))
        if user is not None:
            page.goto(f"{self.url}/login")
            page.get_by_label("User name").fill(user)
            page.get_by_label("Password").fill(PASSWORD.format(user))
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
        return page

    def save(self, page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > VIEWPORT["width"]:
            log.warning("%s is %d px wide, more than the %d px window", name, wide, VIEWPORT["width"])
        page.evaluate("document.fonts.ready")
        height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
        path = self.out / f"{name}.png"
        page.screenshot(
            path=path, full_page=True, clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
        )
        log.info("saved %s", path)

    def open(self, page: Page, path: str) -> Page:
        page.goto(f"{self.url}{path}")
        page.wait_for_load_state("networkidle")
        return page


def public_request(shots: Shots, data: Path) -> None:
    page = shots.page_as(None)
    shots.open(page, "/request")
    form = page.locator("form[data-public-request]")
    form.get_by_label("Your name").fill("Lin Manuel")
    form.get_by_label("How to reach you").fill("lin@example.org")
    form.get_by_label("stage").check()
    now = datetime.now()
    form.get_by_label("From (your local time)").fill((now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Until (your local time)").fill(now.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("A photo of you alone").set_input_files(
        data / "face_recognition/examples/lin-manuel-miranda.png"
    )
    shots.save(page, "public-request")
    form.get_by_role("button", name="Send request").click()
    page.locator("[data-request-result]").wait_for(state="visible", timeout=120_000)
    page.close()


def case_search(shots: Shots, data: Path, window: tuple[datetime, datetime]) -> None:
    """Over the minutes the clip was watched, so that the timeline spreads the sightings out."""
    page = shots.page_as("ian")
    shots.open(page, "/console/search")
    form = page.locator("form[name=case-search]")
    form.get_by_label("Authorisation").select_option(AUTHORISATION)
    form.get_by_label("Case id").fill(CASE)
    form.get_by_label("From (UTC)").fill(window[0].strftime("%Y-%m-%dT%H:%M:%S"))
    form.get_by_label("Until (UTC)").fill(window[1].strftime("%Y-%m-%dT%H:%M:%S"))
    form.get_by_label("Photo of the face").set_input_files(
        data / "face_recognition/examples/lin-manuel-miranda.png"
    )
    form.get_by_role("button", name="Search").click()
    try:
        page.locator("#search-results table tbody tr").first.wait_for(timeout=60_000)
    except PlaywrightTimeout:
        said = page.locator("#notice").text_content()
        raise RuntimeError(f"the case search showed no result: {said}") from None
    page.get_by_role("button", name="Open the clip").click()
    page.locator("video[data-clip][src^='blob:']").wait_for(timeout=60_000)
    shots.save(page, "search")
    page.close()


def audit(shots: Shots) -> None:
    page = shots.page_as("aude")
    shots.open(page, "/console/audit")
    page.get_by_role("button", name="Verify the chain").click()
    page.locator("[data-verify-result][data-ok]").wait_for(timeout=60_000)
    shots.save(page, "audit")
    page.close()


def take(shots: Shots, data: Path, window: tuple[datetime, datetime]) -> None:
    page = shots.page_as(None)
    shots.open(page, "/login")
    shots.save(page, "login")
    shots.save(shots.open(page, "/transparency"), "transparency")
    page.close()

    public_request(shots, data)
    case_search(shots, data, window)

    for user, pages in {
        "olga": ["/console/alerts"],
        "sam": [
            "/console/cameras",
            "/console/people",
            "/console/orders",
            "/console/holds",
            "/console/requests",
        ],
        "aude": ["/console/exports"],
    }.items():
        page = shots.page_as(user)
        for path in pages:
            shots.open(page, path)
            if path == "/console/cameras":  # the snapshots are live frames: wait for them
                for img in page.locator("figure.snapshot img").all():
                    img.evaluate("i => i.complete || new Promise(r => { i.onload = i.onerror = r; })")
            if path == "/console/exports":  # an auditor checks the package
                page.get_by_role("button", name="Verify").first.click()
                page.locator("[data-export-verdict][data-ok]").first.wait_for(timeout=60_000)
            shots.save(page, path.rsplit("/", 1)[-1])
        page.close()
    audit(shots)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared test data")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="where the PNGs go")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)6.0f ms  %(message)s")
    for noisy in ("citywatch", "httpx", "alembic", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    data = args.data.resolve()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="citywatch-screenshots-") as work:
        settings = settings_for(Path(work), data)
        with serve(settings) as (rt, url, api):
            log.info("seeding: enrolments, zones, an authorisation, an order")
            seed_governance(api, data)
            log.info("watching the Hamilton clip on the stage camera")
            window = watch_the_clip(rt)
            seed_alerts(api)
            seed_records(api)
            log.info("approving the police request (its export is made)")
            approve_first_request(api)
            for camera in settings.cameras[:2]:  # live cameras for the status and snapshots
                rt.camera_worker(camera).start()
            time.sleep(3)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                context = browser.new_context(viewport=VIEWPORT)
                context.set_default_timeout(30_000)
                try:
                    take(Shots(args.out, url, context.new_page), data, window)
                finally:
                    browser.close()
    log.info("done in %.0f s", time.monotonic() - started)


if __name__ == "__main__":
    main()
