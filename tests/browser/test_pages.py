"""Every page of the console opens in a real browser, for each role, under the console's
strict Content-Security-Policy: no script error, no blocked resource, no failed request,
and the navigation offers exactly the pages the role may open."""

from __future__ import annotations

import pytest

from citywatch.domain.access import can
from citywatch.domain.audit import Actor
from citywatch.web.console.render import NAV
from tests.browser.conftest import NewContext
from tests.browser.harness import USERS, Console, path_of, sign_in
from tests.browser.pw import Page

pytestmark = pytest.mark.browser

PUBLIC_PAGES = ["/login", "/request", "/transparency"]


class Problems:
    """What went wrong on a page as the browser saw it: console errors (a CSP violation is
    one), uncaught exceptions, and answers of 400 or more."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on(
            "console",
            lambda m: self.seen.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.seen.append(f"uncaught: {e}"))
        page.on(
            "response",
            lambda r: self.seen.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
        )


def visit(page: Page, console: Console, path: str) -> None:
    page.goto(console.at(path))
    page.wait_for_load_state("load")
    assert path_of(page).split("?")[0] == path, f"{path} sent the browser to {page.url}"


@pytest.mark.parametrize("user", ["ada", "sam", "olga", "ian", "aude"])  # one per role
def test_each_role_opens_its_pages_cleanly(new_context: NewContext, console: Console, user: str) -> None:
    page = new_context().new_page()
    sign_in(page, console, user)
    problems = Problems(page)
    actor = Actor(user, USERS[user])
    allowed = [item for item in NAV if can(actor, item.permission)]
    offered = page.get_by_role("navigation", name="Pages").get_by_role("link")
    assert offered.all_text_contents() == [item.label for item in allowed]
    for item in allowed:
        visit(page, console, item.path)
    assert problems.seen == []


def test_the_public_pages_open_cleanly_without_signing_in(new_context: NewContext, console: Console) -> None:
    page = new_context().new_page()
    problems = Problems(page)
    for path in PUBLIC_PAGES:
        visit(page, console, path)
    assert problems.seen == []
