"""Fixtures for the browser tests: Debian's chromium under Playwright (skipped outside CI
when either is missing, saying why; a failure under CI=true, where `make install` provides
both), a console server per module, and a fresh browser context per signed-in person."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, Console, console_settings, serve, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

TIMEOUT_MS = 10_000


def _missing(why: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{why} (make install provides it)")
    pytest.skip(f"{why}: run make install")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless chromium, as root on a closed network: no sandbox, no background traffic, and
    a fresh profile (Playwright gives each launch an empty user-data-dir).

    Package scope, not session: Playwright's sync API keeps an event loop running in the main
    thread while it is open, and later tests that call asyncio.run() would fail under it."""
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 (a missing dev extra skips)
    except ImportError:
        _missing("playwright is not installed")
    if not CHROMIUM.is_file():
        _missing(f"Debian's chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A console with its users and no cameras: for the pages that need no footage."""
    with serve(console_settings(tmp_path_factory.mktemp("console"))) as served:
        yield served


NewContext = Callable[[], "BrowserContext"]


@pytest.fixture
def new_context(browser: Browser) -> Iterator[NewContext]:
    """Browser contexts (each its own cookies: its own person), closed after the test."""
    opened: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


@pytest.fixture
def page(new_context: NewContext) -> Page:
    return new_context().new_page()


SignedIn = Callable[[Console, str], "Page"]


@pytest.fixture
def signed_in(new_context: NewContext) -> SignedIn:
    """A page in a context of its own, signed in as `name`."""

    def open_as(console: Console, name: str) -> Page:
        page = new_context().new_page()
        sign_in(page, console, name)
        return page

    return open_as
