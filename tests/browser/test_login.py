"""Signing in to the console in a real browser: the right password opens the role's first
page, a wrong one is refused on the form, and signing out ends the session."""

from __future__ import annotations

import pytest

from citywatch.web.api.auth import SESSION_COOKIE
from tests.browser.conftest import SignedIn
from tests.browser.harness import PASSWORDS, Console, path_of, sign_in
from tests.browser.pw import Page, expect

pytestmark = pytest.mark.browser


def test_a_wrong_password_is_refused_on_the_form(page: Page, console: Console) -> None:
    sign_in(page, console, "sam", password="not-sams-password")
    expect(page.get_by_role("alert")).to_contain_text("password")
    assert path_of(page) == "/login"
    expect(page.get_by_label("User name")).to_have_value("sam")  # kept, the password not
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto(console.at("/"))
    assert path_of(page) == "/login", "a refused sign-in opens nothing"


def test_signing_in_opens_the_console_and_signing_out_ends_it(signed_in: SignedIn, console: Console) -> None:
    page = signed_in(console, "sam")
    assert path_of(page) == "/console/alerts", "a supervisor's first page"
    [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    expect(page.locator("header .user")).to_contain_text("sam")
    expect(page.locator("header .user")).to_contain_text("supervisor")
    expect(page.get_by_role("navigation", name="Pages").get_by_role("link").first).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert path_of(page) == "/login"
    page.goto(console.at("/"))
    assert path_of(page) == "/login", "signed out: the console asks to sign in again"


def test_a_page_asked_for_before_signing_in_opens_after_it(page: Page, console: Console) -> None:
    page.goto(console.at("/console/alerts"))
    assert path_of(page).startswith("/login")
    page.get_by_label("User name").fill("olga")
    page.get_by_label("Password").fill(PASSWORDS["olga"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/alerts")
