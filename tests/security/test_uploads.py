"""Issue 13, finding 5, against the real server (uvicorn on a free port): no unauthenticated
upload stalls it, X-Forwarded-For moves no limit unless its sender is a configured proxy,
and one account's password cannot be guessed from many addresses.

Each attack is replayed as sent; that the refusals come before the expensive work is shown
by what they say (the pixel budget, the part cap), not by timing them: the latency of
`/healthz` under these attacks is `citywatch bench stall`'s (docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from citywatch.bench.stall import huge_png, many_parts, photo_form
from citywatch.config.api import ApiSettings
from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.web.api.server import ApiServer
from citywatch.web.app import create_app
from tests.fakes.accounts import own_token

PASSWORD = "a long enough password"
PUBLIC_FORM = "/api/public/requests"

Serve = Callable[..., tuple[str, Runtime]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start the real server with these `api` settings (on a free port); stopped at the end."""
    running: list[tuple[ApiServer, Runtime]] = []

    def start(**api: Any) -> tuple[str, Runtime]:
        settings = ApiSettings(enabled=True, port=0, shutdown_s=1, **api)
        data = tmp_path / f"data-{len(running)}"
        rt = build_runtime(
            Settings(
                data_dir=data,
                cameras=[CameraSettings(id="gate-1", url=str(tmp_path / "gate-1.mp4"))],
                api=settings,
            )
        )
        server = ApiServer(create_app(rt), settings, rt.feed)
        server.start()
        running.append((server, rt))
        return server.url, rt

    yield start
    for server, rt in running:
        server.stop()
        rt.close()


def post_form(url: str, path: str, form: tuple[str, bytes], **headers: str) -> httpx.Response:
    content_type, body = form
    return httpx.post(
        f"{url}{path}", content=body, headers={"Content-Type": content_type, **headers}, timeout=60
    )


# --- uploads that used to stall the server ----------------------------------------------------


def test_a_small_png_declaring_20000x20000_pixels_is_refused_from_its_header(serve: Serve) -> None:
    url, _ = serve()
    png = huge_png(20_000, 20_000)
    assert len(png) < 400_000  # the 389 KB, or less: small on the wire, 1.2 GB decoded

    refused = post_form(url, PUBLIC_FORM, photo_form(png))

    assert refused.status_code == 413, refused.text
    body = refused.json()
    assert body["code"] == "too_large"
    assert "pixel budget of 40 MP" in body["detail"]
    assert "refused before decoding" in body["detail"]
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_an_image_just_over_a_configured_pixel_budget_is_refused_naming_its_size(serve: Serve) -> None:
    url, _ = serve(upload_max_pixels=1_000_000)
    refused = post_form(url, PUBLIC_FORM, photo_form(huge_png(1001, 1000)))
    assert refused.status_code == 413
    assert refused.json()["detail"] == (
        "photo.png: the image declares 1001x1000 pixels (1 MP), over the pixel budget of 1 MP; "
        "it was refused before decoding"
    )


def test_an_enrolment_photo_over_the_pixel_budget_is_refused_before_decoding(serve: Serve) -> None:
    url, rt = serve()
    rt.users.add_user("wendy", "admin")
    token = own_token(rt.users, "wendy").token
    request = httpx.Request(
        "POST",
        f"{url}/api/persons",
        data={"name": "X", "source": "warrant file 1", "legal_basis": "court order 7"},
        files={"images": ("big.png", huge_png(20_000, 20_000), "image/png")},
        headers={"Authorization": f"Bearer {token}"},
    )
    with httpx.Client(timeout=60) as client:
        refused = client.send(request)
    assert refused.status_code == 413, refused.text
    assert "pixel budget" in refused.json()["detail"]


def test_a_form_of_180000_tiny_parts_is_refused_at_the_part_cap(serve: Serve) -> None:
    # a photo limit the body fits in, so that the part cap (not the size) refuses it
    url, _ = serve(public_photo_max_mb=10)
    content_type, body = many_parts(180_000)
    assert len(body) < 10_000_000

    refused = post_form(url, PUBLIC_FORM, (content_type, body))

    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == "too_large"
    assert refused.json()["detail"] == (
        "the form has more than 256 parts (api.form_parts_max); it was refused unparsed"
    )
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_a_huge_text_field_is_refused_at_the_field_limit(serve: Serve) -> None:
    url, _ = serve()
    request = httpx.Request("POST", "http://x/", data={"requester": "x" * 100_000}, files={"photo": b"x"})
    refused = post_form(url, PUBLIC_FORM, (request.headers["content-type"], request.read()))
    assert refused.status_code == 413
    assert "'requester' is larger than 64 KB (api.form_field_max_kb)" in refused.json()["detail"]


# --- X-Forwarded-For -------------------------------------------------------------------------


def test_no_proxy_is_trusted_by_default() -> None:
    assert ApiSettings().trusted_proxies == []


def test_a_local_client_cannot_dodge_the_public_forms_limit_with_x_forwarded_for(serve: Serve) -> None:
    url, _ = serve()  # the defaults: 5 requests an hour per address, no proxy trusted
    codes = [
        httpx.post(
            f"{url}{PUBLIC_FORM}",
            content=b"not a form",
            headers={"Content-Type": "text/plain", "X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(6)
    ]
    assert codes == [415] * 5 + [429]  # each counted as 127.0.0.1, whatever the header said


# --- password guesses ------------------------------------------------------------------------


def sign_in(url: str, name: str, password: str, client: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/session", json={"name": name, "password": password}, headers={"X-Forwarded-For": client}
    )


def test_guesses_from_many_addresses_lock_the_account_they_guess(serve: Serve) -> None:
    # behind a trusted proxy, each guess comes from another client address, as in a botnet
    url, rt = serve(trusted_proxies=["127.0.0.1"], password_failures_per_account=3)
    rt.users.add_user("sam", "supervisor")
    rt.users.set_password("sam", PASSWORD)
    rt.users.add_user("sue", "supervisor")
    rt.users.set_password("sue", PASSWORD)

    guesses = [sign_in(url, "sam", f"guess {i}", f"198.51.100.{i}").status_code for i in range(4)]
    locked = sign_in(url, "sam", PASSWORD, "192.0.2.1")  # even the right password, from elsewhere

    assert guesses == [403, 403, 403, 429]
    assert locked.status_code == 429
    assert locked.json()["detail"].startswith("too many wrong passwords for this user name; try again in")
    assert int(locked.headers["Retry-After"]) > 0
    assert sign_in(url, "sue", PASSWORD, "192.0.2.1").status_code == 200  # another account signs in
    locks = [(e.actor, e.object) for e in rt.audit_log.entries() if e.action == "auth.rate_limited"]
    assert locks == [("anonymous", "user:sam")]  # audited once for the lock, not for each refusal


def test_an_unknown_name_is_locked_in_the_same_words_as_a_real_one(serve: Serve) -> None:
    url, rt = serve(trusted_proxies=["127.0.0.1"], password_failures_per_account=2)
    rt.users.add_user("sam", "supervisor")
    rt.users.set_password("sam", PASSWORD)

    def answers(name: str) -> list[tuple[int, str]]:
        sent = [sign_in(url, name, "wrong", f"198.51.100.{i}") for i in range(3)]
        return [(r.status_code, r.json()["detail"].split(";")[0]) for r in sent]

    assert answers("sam") == answers("nobody")
    assert answers("sam")[-1] == (429, "too many wrong passwords for this user name")
