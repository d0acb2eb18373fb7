"""The supervisor on its own: backoff and budget (a pure rule), restarts of children that die,
failure once the budget is spent, finished work left alone, stops tier by tier."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from citywatch.domain.errors import SourceUnavailable
from citywatch.domain.lifecycle import Death
from citywatch.runtime.supervisor import ChildState, RestartPolicy, Supervisor, next_restart

FAST = RestartPolicy(budget=2, window_s=60, backoff_initial_s=0.01, backoff_max_s=0.05)


def test_backoff_doubles_up_to_its_ceiling() -> None:
    policy = RestartPolicy(budget=10, window_s=600, backoff_initial_s=1, backoff_max_s=5)
    waits = [next_restart([0.0] * n, 100.0, policy) for n in range(5)]
    assert waits == [1, 2, 4, 5, 5]


def test_the_budget_counts_restarts_within_its_window_only() -> None:
    policy = RestartPolicy(budget=2, window_s=60, backoff_initial_s=1, backoff_max_s=60)
    assert next_restart([10.0, 20.0], 30.0, policy) is None  # two within the last minute: spent
    assert next_restart([10.0, 20.0], 75.0, policy) == 2  # the first has left the window
    assert next_restart([], 0.0, RestartPolicy(budget=0)) is None  # 0: never restarted


@dataclass
class Job:
    """A child whose thread ends when told to (`die`, `finish`) or stopped."""

    ends: threading.Event = field(default_factory=threading.Event)
    death_: Death | None = None
    stopped: float = 0.0

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self.ends.wait, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopped = time.monotonic()
        self.ends.set()

    def join(self, timeout_s: float | None = None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def die(self, reason: str, *, permanent: bool = False) -> None:
        self.death_ = Death(reason, permanent)
        self.ends.set()

    @property
    def done(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    @property
    def death(self) -> Death | None:
        return self.death_


@dataclass
class Heard:
    restarts: list[tuple[str, int, str]] = field(default_factory=list)
    failures: list[tuple[str, int, str]] = field(default_factory=list)

    def restarted(self, name: str, restarts: int, reason: str) -> None:
        self.restarts.append((name, restarts, reason))

    def failed(self, name: str, restarts: int, reason: str) -> None:
        self.failures.append((name, restarts, reason))


class Jobs:
    """A factory that remembers every job it built."""

    def __init__(self) -> None:
        self.built: list[Job] = []

    def __call__(self) -> Job:
        self.built.append(Job())
        return self.built[-1]


def wait_for(condition, timeout_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def heard() -> Heard:
    return Heard()


def test_a_child_that_dies_is_restarted_fresh_and_the_restart_is_told(heard: Heard) -> None:
    jobs = Jobs()
    sup = Supervisor(FAST, heard, tick_s=0.01)
    sup.add("camera:a", jobs)
    sup.start()
    jobs.built[0].die("decoder crashed")
    wait_for(lambda: len(jobs.built) == 2 and bool(heard.restarts))
    assert sup.child("camera:a") is jobs.built[1]
    assert heard.restarts == [("camera:a", 1, "decoder crashed")]
    (status,) = sup.status()
    assert status.restarts == 1 and status.error == "decoder crashed"
    sup.stop()


def test_once_the_budget_is_spent_the_child_fails_and_the_others_run_on(heard: Heard) -> None:
    dying, steady = Jobs(), Jobs()
    sup = Supervisor(FAST, heard, tick_s=0.01)
    sup.add("camera:a", dying)
    sup.add("camera:b", steady)
    sup.start()
    for n in range(3):  # the first death and two restarts: the budget is two
        wait_for(lambda n=n: len(dying.built) == n + 1)
        dying.built[n].die(f"crash {n}")
    wait_for(lambda: sup.status()[0].state is ChildState.FAILED)
    a, b = sup.status()
    assert a.restarts == 2 and "crash 2" in (a.error or "") and "gave up" in (a.error or "")
    assert b.state is ChildState.RUNNING and not steady.built[0].done
    assert [f[:2] for f in heard.failures] == [("camera:a", 2)]
    assert not sup.settled("camera:") and sup.settled("camera:a")
    time.sleep(0.1)
    assert len(dying.built) == 3  # failed for good: never started again
    sup.stop()


def test_a_permanent_death_fails_at_once_and_finished_work_is_left_alone(heard: Heard) -> None:
    corrupt, finite = Jobs(), Jobs()
    sup = Supervisor(FAST, heard, tick_s=0.01)
    sup.add("camera:corrupt", corrupt)
    sup.add("camera:file", finite)
    sup.start()
    corrupt.built[0].die("not a readable video", permanent=True)
    finite.built[0].ends.set()  # read to its end: no death
    wait_for(sup.settled)
    assert [s.state for s in sup.status()] == [ChildState.FAILED, ChildState.DONE]
    assert len(corrupt.built) == 1 and len(finite.built) == 1
    assert heard.restarts == []
    sup.stop()


def test_a_rebuild_that_fails_counts_against_the_budget(heard: Heard) -> None:
    built: list[Job] = []

    def flaky() -> Job:
        if built:  # the first opens; every rebuild finds the host unreachable
            raise SourceUnavailable("rtsp://cam: connection refused")
        built.append(Job())
        return built[0]

    sup = Supervisor(FAST, heard, tick_s=0.01)
    sup.add("camera:a", flaky)
    sup.start()
    built[0].die("stream lost")
    wait_for(sup.settled)
    (status,) = sup.status()
    assert status.state is ChildState.FAILED and status.restarts == 2
    assert "connection refused" in (status.error or "")
    sup.stop()


def test_a_child_that_cannot_be_built_at_all_fails_with_why(heard: Heard) -> None:
    def missing() -> Job:
        raise SourceUnavailable("/no/such.mp4: no such file or folder")

    sup = Supervisor(FAST, heard, tick_s=0.01)
    assert sup.add("camera:a", missing) is None
    (status,) = sup.status()
    assert status.state is ChildState.FAILED and "no such file" in (status.error or "")
    assert heard.failures == [("camera:a", 0, "/no/such.mp4: no such file or folder")]


def test_stop_stops_tier_by_tier_and_nothing_is_restarted_after(heard: Heard) -> None:
    cameras, delivery = Jobs(), Jobs()
    sup = Supervisor(FAST, heard, tick_s=0.01)
    sup.add("service:delivery", delivery, tier=1)
    sup.add("camera:a", cameras, tier=0)
    sup.start()
    assert sup.stop(5) == []
    assert cameras.built[0].stopped < delivery.built[0].stopped  # producers first
    assert {s.state for s in sup.status()} == {ChildState.STOPPED}
    assert heard.restarts == [] and len(cameras.built) == 1


def test_a_child_added_while_it_runs_starts_at_once_and_one_removed_stops_for_good(heard: Heard) -> None:
    first, later = Jobs(), Jobs()
    sup = Supervisor(FAST, heard, tick_s=0.01)
    sup.add("camera:a", first, spec="settings a")
    assert not first.built[0].done and first.built[0]._thread.ident is None  # built, not started
    sup.start()
    sup.add("camera:b", later, spec="settings b")
    wait_for(later.built[0]._thread.is_alive)  # started at once: the supervisor runs
    assert (sup.spec("camera:a"), sup.spec("camera:b"), sup.spec("camera:none")) == (
        "settings a",
        "settings b",
        None,
    )
    assert sup.remove("camera:b", 5) and later.built[0].done
    assert [s.name for s in sup.status()] == ["camera:a"] and sup.spec("camera:b") is None
    time.sleep(0.1)
    assert len(later.built) == 1 and heard.restarts == []  # removed: never restarted
    assert not sup.remove("camera:b")  # no such child any more
    assert sup.stop(5) == []


def test_a_child_removed_while_it_waits_for_its_restart_is_not_rebuilt(heard: Heard) -> None:
    jobs = Jobs()
    slow = RestartPolicy(budget=5, window_s=60, backoff_initial_s=0.3, backoff_max_s=0.3)
    sup = Supervisor(slow, heard, tick_s=0.01)
    sup.add("camera:a", jobs)
    sup.start()
    jobs.built[0].die("stream lost")
    wait_for(lambda: sup.status()[0].state is ChildState.RESTARTING)
    assert sup.remove("camera:a", 5)
    time.sleep(0.5)
    assert len(jobs.built) == 1 and sup.status() == [] and heard.restarts == []
    assert sup.stop(5) == []


def test_a_child_added_after_the_stop_began_is_not_started(heard: Heard) -> None:
    jobs = Jobs()
    sup = Supervisor(FAST, heard, tick_s=0.01)
    sup.start()
    assert sup.stop(5) == []
    sup.add("camera:late", jobs)
    assert jobs.built[0]._thread.ident is None
    assert sup.remove("camera:late", 1)  # stopped without a join of what never started
