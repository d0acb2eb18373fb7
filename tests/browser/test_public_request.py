"""The public subject-access form in a real browser, with no sign-in: a member of the public
names the camera and the time, uploads a photo of themself, and gets a reference; the form
says in words what is missing before it sends anything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.browser.harness import STAGE, Console, console_settings, lin_photo, serve
from tests.browser.pw import Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def theatre(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Console]:
    with serve(console_settings(tmp_path_factory.mktemp("public"), shared_data, replay=False)) as console:
        yield console


def local(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


def fill_in(page: Page, photo: Path) -> None:
    form = page.locator("form[data-public-request]")
    form.get_by_label("Your name").fill("Lin Manuel")
    form.get_by_label("How to reach you").fill("lin@example.org")
    now = datetime.now()
    form.get_by_label("From (your local time)").fill(local(now - timedelta(hours=2)))
    form.get_by_label("Until (your local time)").fill(local(now))
    form.get_by_label("A photo of you alone").set_input_files(photo)


def test_a_member_of_the_public_files_a_request_without_signing_in(
    page: Page, theatre: Console, shared_data: Path
) -> None:
    page.goto(theatre.at("/request"))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)  # nobody signed in
    expect(page.get_by_role("heading", name="Ask what footage holds of you")).to_be_visible()
    fill_in(page, lin_photo(shared_data))
    send = page.get_by_role("button", name="Send request")

    send.click()  # no camera ticked yet: said on the page, nothing sent
    expect(page.locator("[data-request-error]")).to_have_text("Please tick at least one camera.")
    assert theatre.rt.requests.list() == []

    page.get_by_label(STAGE).check()
    send.click()
    result = page.locator("[data-request-result]")
    expect(result).to_be_visible(timeout=30_000)  # the form searches before it answers
    expect(result.get_by_role("heading", name="Your request is filed")).to_be_visible()
    reference = result.get_attribute("data-reference")
    assert reference
    expect(result.locator("[data-reference]")).to_have_text(reference)
    expect(page.locator("form[data-public-request]")).to_be_hidden()

    [filed] = theatre.rt.requests.list()
    assert (filed.reference, filed.requester, filed.cameras) == (reference, "Lin Manuel", [STAGE])
