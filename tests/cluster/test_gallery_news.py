"""News of a changed gallery goes out on the bus once the change has committed, never for one
rolled back nor for an action that changes no gallery, and a listener hears each."""

from __future__ import annotations

import time

import pytest

from citywatch.bus.embedded import EmbeddedBus
from citywatch.cluster import gallery_news
from citywatch.domain.audit import Action
from citywatch.runtime.build import Runtime


def test_the_news_goes_out_after_the_commit_only(rt: Runtime) -> None:
    bus = EmbeddedBus()
    heard: list[str] = []
    subscription = gallery_news.listen(bus, lambda: heard.append("reload"))
    try:
        with rt.database.session() as session:
            gallery_news.tell_after_commit(bus, session, Action.PERSON_ENROL)
            gallery_news.tell_after_commit(bus, session, Action.CHANGE_APPROVE)  # once a transaction
            time.sleep(0.2)
            assert heard == []  # not before the commit
        deadline = time.monotonic() + 5
        while not heard and time.monotonic() < deadline:
            time.sleep(0.02)
        assert heard == ["reload"]
        with pytest.raises(RuntimeError), rt.database.session() as session:
            gallery_news.tell_after_commit(bus, session, Action.PERSON_REMOVE)
            raise RuntimeError("rolled back")
        with rt.database.session() as session:
            gallery_news.tell_after_commit(bus, session, Action.SEARCH_PHOTO)  # no gallery change
        time.sleep(0.3)
        assert heard == ["reload"]
    finally:
        subscription.close()
