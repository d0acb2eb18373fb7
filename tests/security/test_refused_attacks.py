"""Attacks that were already refused when issue 13 was filed, replayed against the real
server (uvicorn on a free port, plain HTTP, no browser), so that a regression fails CI:
login CSRF, session fixation, a cross-site change with a cookie, path traversal, malformed
JSON, role and sign-in on a sample of routes; and, since cameras became records, an operator
adding a camera, a camera id that climbs out of its folder, a stream's credentials echoed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from citywatch.config.api import ApiSettings
from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.runtime.build import build_runtime
from citywatch.web.api.auth import SESSION_COOKIE
from citywatch.web.api.server import ApiServer
from citywatch.web.app import create_app

PASSWORD = "correct horse battery staple"
USERS = {"ada": "admin", "olga": "operator", "aude": "auditor", "ian": "investigator"}


@dataclass(frozen=True)
class Server:
    url: str

    def sign_in(self, name: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url)
        answer = client.post("/api/session", json={"name": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return client


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("attacks")
    api = ApiSettings(enabled=True, port=0, shutdown_s=1)
    settings = Settings(
        data_dir=tmp / "data", cameras=[CameraSettings(id="gate-1", url=str(tmp / "gate-1.mp4"))], api=api
    )
    rt = build_runtime(settings)
    for name, role in USERS.items():
        rt.users.add_user(name, role, password=PASSWORD)
    served = ApiServer(create_app(rt), api, rt.feed)
    served.start()
    yield Server(served.url)
    served.stop()
    rt.close()


def test_login_csrf_another_site_cannot_sign_a_browser_in(server: Server) -> None:
    """A page elsewhere posting the attacker's credentials would sign the victim's browser in
    as the attacker (login CSRF): a sign-in that names another origin is refused."""
    answer = httpx.post(
        f"{server.url}/api/session",
        json={"name": "olga", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.cookies


def test_session_fixation_a_planted_cookie_is_replaced_and_signs_nobody_in(server: Server) -> None:
    client = httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: "planted-by-the-attacker"})
    answer = client.post("/api/session", json={"name": "olga", "password": PASSWORD})
    assert answer.status_code == 200
    issued = answer.cookies.get(SESSION_COOKIE)
    assert issued and issued != "planted-by-the-attacker"
    planted = httpx.get(f"{server.url}/api/alerts", cookies={SESSION_COOKIE: "planted-by-the-attacker"})
    assert planted.status_code == 401


def test_a_cookie_signed_change_from_another_site_is_refused(server: Server) -> None:
    olga = server.sign_in("olga")
    answer = olga.post("/api/alerts/1/acknowledge", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert answer.json()["code"] in {"cross_site", "forbidden", "permission_denied"}, answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2f..%2f..%2fpyproject.toml",
        "/static/%2e%2e/%2e%2e/api/app.py",
        "/static/..%5c..%5capi%5capp.py",
        "/static/....//....//etc/passwd",
        "/api/exports/..%2f..%2f..%2fetc%2fpasswd/download",
        "/api/recordings/gate-1/..%2f..%2f..%2fetc%2fpasswd",
    ],
)
def test_path_traversal_reads_nothing_outside_what_is_served(server: Server, path: str) -> None:
    ada = server.sign_in("ada")
    answer = ada.get(path)
    assert answer.status_code in {400, 404, 422}, (path, answer.status_code)
    for secret in ("root:x:0:0", "[project]", "def create_app"):
        assert secret not in answer.text


@pytest.mark.parametrize("body", ["{", "[]", '{"name": 1, "password": []}', "\x00\xff"])
def test_malformed_json_gets_a_clear_error(server: Server, body: str) -> None:
    answer = httpx.post(
        f"{server.url}/api/session", content=body.encode("utf-8", "surrogateescape"),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["code"] and answer.json()["detail"]


@pytest.mark.parametrize(
    ("user", "method", "path", "expected"),
    [
        (None, "GET", "/api/alerts", 401),
        (None, "GET", "/api/audit", 401),
        ("olga", "GET", "/api/users", 403),
        ("olga", "GET", "/api/audit", 403),
        ("aude", "GET", "/api/sightings", 403),
        ("ian", "POST", "/api/users", 403),
        ("aude", "GET", "/api/audit", 200),
        ("ada", "GET", "/api/users", 200),
    ],
)
def test_role_and_sign_in_on_the_real_server(
    server: Server, user: str | None, method: str, path: str, expected: int
) -> None:
    client = httpx.Client(base_url=server.url) if user is None else server.sign_in(user)
    origin = {"Origin": server.url}
    answer = client.request(method, path, headers=origin, json={} if method == "POST" else None)
    assert answer.status_code == expected, (user, path, answer.text)


# --- camera records --------------------------------------------------------------------------

STREAM_PASSWORD = "pa55-for-the-stream"


@pytest.fixture(scope="module")
def ada(server: Server) -> httpx.Client:
    """The admin, signed in once for the camera tests (sign-ins per address are limited)."""
    return server.sign_in("ada")


def test_an_operator_adding_a_camera_is_refused_and_audited(server: Server, ada: httpx.Client) -> None:
    olga = server.sign_in("olga")
    body = {"id": "rogue", "url": "rtsp://evil.example/stream"}
    answer = olga.post("/api/cameras", json=body, headers={"Origin": server.url})
    assert answer.status_code == 403 and "cameras.manage" in answer.json()["detail"]
    assert ada.get("/api/cameras/rogue").status_code == 404
    refusals = ada.get("/api/audit", params={"action": "access.refused", "actor": "olga"}).json()["items"]
    assert any(
        r["object"] == "api:/api/cameras" and r["params"]["permission"] == "cameras.manage" for r in refusals
    )


@pytest.mark.parametrize("camera_id", ["..", "../../etc", "..%2f..%2fetc", ".ssh", "a/../../b"])
def test_a_camera_id_with_path_traversal_is_refused(
    server: Server, ada: httpx.Client, camera_id: str
) -> None:
    origin = {"Origin": server.url}
    added = ada.post("/api/cameras", json={"id": camera_id, "url": "/srv/clip.mp4"}, headers=origin)
    assert added.status_code == 422, added.text
    for method in ("GET", "PATCH", "DELETE"):
        answer = ada.request(
            method, f"/api/cameras/{camera_id}", json={} if method == "PATCH" else None, headers=origin
        )
        assert answer.status_code in {404, 405, 422}, (method, camera_id, answer.status_code)
    assert all(".." not in c["id"] for c in ada.get("/api/cameras").json()["items"])


def test_a_stream_url_with_credentials_is_never_echoed(server: Server, ada: httpx.Client) -> None:
    origin = {"Origin": server.url}
    url = f"rtsp://viewer:{STREAM_PASSWORD}@10.0.4.22:554/live?token={STREAM_PASSWORD}"
    answers = [ada.post("/api/cameras", json={"id": "dock-9", "url": url}, headers=origin)]
    answers.append(ada.patch("/api/cameras/dock-9", json={"url": url + "2"}, headers=origin))
    answers.append(ada.get("/api/cameras/dock-9"))
    answers.append(ada.get("/api/cameras"))
    answers.append(ada.post("/api/cameras", json={"id": "dock-9", "url": url}, headers=origin))  # 409
    answers.append(
        ada.post(
            "/api/cameras", json={"id": "dock-x", "url": "ftp://u:" + STREAM_PASSWORD + "@h/"}, headers=origin
        )
    )
    answers.append(ada.get("/api/audit", params={"object": "camera:dock-9"}))
    answers.append(ada.delete("/api/cameras/dock-9", headers=origin))
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 409, 422, 200, 200]
    assert answers[2].json()["source_url"] == "rtsp://***@10.0.4.22:554/live?token=***"
    for answer in answers:
        assert STREAM_PASSWORD not in answer.text, answer.request.url
