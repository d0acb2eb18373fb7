"""The lease store's contract, held by both stores: in this process (the embedded default) and
a NATS KV bucket on a real nats-server (a server of each test's own). Then what holds only
where a store can be away: a keeper cut off from NATS gives its leases up before they can
lapse, and leases are taken again after a restart; and singleton jobs over two connections
(two processes' view): one runs at a time, and the other takes over when it stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import pytest

from citywatch.cluster.nats import NatsClient
from citywatch.cluster.servers import NatsServer
from citywatch.domain.errors import InvalidInput, Unavailable
from citywatch.domain.leases import Lease, LeaseStore, camera_key, key_name, singleton_key
from citywatch.leases.connect import open_leases
from citywatch.leases.embedded import EmbeddedLeases
from citywatch.leases.keeper import LeaseKeeper
from citywatch.leases.nats_kv import NatsLeases
from citywatch.leases.singleton import Singleton

TTL_S = 1.0
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout_s: float) -> T:
    """`probe()`'s first truthy answer within `timeout_s`; fails the test otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"nothing within {timeout_s} s"
        time.sleep(0.02)


@pytest.fixture(params=["embedded", "nats"])
def leases(request: pytest.FixtureRequest) -> Iterator[LeaseStore]:
    if request.param == "embedded":
        yield EmbeddedLeases(TTL_S)
        return
    server: NatsServer = request.getfixturevalue("nats_server")
    client = NatsClient(server.url)
    try:
        yield NatsLeases(client, TTL_S)
    finally:
        client.close()


# --- the contract ---------------------------------------------------------------------------


def test_a_key_has_one_holder_at_a_time(leases: LeaseStore) -> None:
    a = leases.acquire("camera.gate-1", "a")
    assert a is not None and (a.key, a.holder, a.ttl_s) == ("camera.gate-1", "a", TTL_S)
    assert a.token == a.revision > 0
    assert leases.acquire("camera.gate-1", "b") is None
    assert leases.holder("camera.gate-1") == a
    again = leases.acquire("camera.gate-1", "a")  # asking again renews it: the same token
    assert again is not None and again.token == a.token and again.revision > a.revision
    other = leases.acquire("camera.gate-2", "b")
    assert other is not None and other.token > a.token
    assert leases.holder("camera.gate-3") is None


def test_renewing_keeps_a_lease_past_its_ttl(leases: LeaseStore) -> None:
    lease = leases.acquire("singleton.purge", "a")
    assert lease is not None
    until = time.monotonic() + 2.5 * TTL_S
    while time.monotonic() < until:
        time.sleep(TTL_S / 4)
        renewed = leases.renew(lease)
        assert renewed is not None and renewed.token == lease.token and renewed.revision > lease.revision
        assert leases.acquire("singleton.purge", "b") is None
        lease = renewed
    assert leases.holder("singleton.purge") == lease


def test_many_leases_renew_in_one_call_each_answered_in_order(leases: LeaseStore) -> None:
    held = [leases.acquire(f"camera.cam-{n}", "a") for n in range(30)]
    assert all(lease is not None for lease in held)
    mine = [lease for lease in held if lease is not None]
    released = mine[7]
    leases.release(released)
    taken = leases.acquire(released.key, "b")  # lost meanwhile: its renewal answers None
    assert taken is not None
    renewed = leases.renew_many(mine)
    assert renewed[7] is None
    for before, after in zip(mine, renewed, strict=True):
        if before is not released:
            assert after is not None and (after.key, after.token) == (before.key, before.token)
            assert after.revision > before.revision
    assert leases.holder(released.key) == taken
    assert leases.renew_many([]) == []


def test_a_lapsed_lease_goes_to_the_next_holder_with_a_higher_token(leases: LeaseStore) -> None:
    old = leases.acquire("camera.gate-1", "a")
    assert old is not None
    asked = time.monotonic()
    new = eventually(lambda: leases.acquire("camera.gate-1", "b"), timeout_s=TTL_S + 3)
    assert time.monotonic() - asked > 0.9 * TTL_S  # not before the TTL
    assert new.holder == "b" and new.token > old.token
    assert leases.renew(old) is None  # the old holder learns it lost the key
    leases.release(old)  # and cannot give away what is no longer its own
    assert leases.holder("camera.gate-1") == new


def test_a_released_lease_is_free_at_once(leases: LeaseStore) -> None:
    a = leases.acquire("camera.gate-1", "a")
    assert a is not None
    leases.release(a)
    assert leases.holder("camera.gate-1") is None
    b = leases.acquire("camera.gate-1", "b")
    assert b is not None and b.token > a.token
    assert leases.renew(a) is None
    leases.release(a)
    assert leases.holder("camera.gate-1") == b


def test_a_renewal_whose_answer_was_lost_is_no_loss(leases: LeaseStore) -> None:
    lease = leases.acquire("camera.gate-1", "a")
    assert lease is not None
    first = leases.renew(lease)
    second = leases.renew(lease)  # the holder never heard of `first`: it asks with what it has
    assert first is not None and second is not None
    assert second.token == lease.token and second.revision > first.revision
    leases.release(lease)
    assert leases.holder("camera.gate-1") is None


def test_holders_lists_the_leases_held_under_a_prefix(leases: LeaseStore) -> None:
    a = leases.acquire("camera.gate-1", "a")
    b = leases.acquire("camera.gate-2", "b")
    purge = leases.acquire("singleton.purge", "a")
    assert a is not None and b is not None and purge is not None
    assert leases.holders("camera.") == {"camera.gate-1": a, "camera.gate-2": b}
    assert leases.holders("singleton.") == {"singleton.purge": purge}
    assert set(leases.holders()) == {"camera.gate-1", "camera.gate-2", "singleton.purge"}
    leases.release(b)
    assert list(leases.holders("camera.")) == ["camera.gate-1"]
    assert leases.holders("nothing.") == {}


BAD_KEYS = ["", ".camera", "camera.", "camera..1", "camera 1", "camera.*", "camera.>", "kamera.ü", "x" * 256]
BAD_PREFIXES = ["camera", ".", "camera..", "*.", "camera.>."]


def test_bad_keys_and_prefixes_are_refused(leases: LeaseStore) -> None:
    for key in BAD_KEYS:
        with pytest.raises(InvalidInput):
            leases.acquire(key, "a")
        with pytest.raises(InvalidInput):
            leases.holder(key)
    for prefix in BAD_PREFIXES:
        with pytest.raises(InvalidInput):
            leases.holders(prefix)
    with pytest.raises(InvalidInput):
        leases.acquire("camera.gate-1", "")
    assert leases.holders() == {}


def test_lease_keys_name_any_camera_id_in_one_token() -> None:
    assert camera_key("gate-1") == "camera.gate-1"
    assert singleton_key("purge") == "singleton.purge"
    for name in ("gate.1", "a..b", "trailing.", "a=b", "kamera-ü"):
        key = camera_key(name)
        assert key.count(".") == 1 and key_name(key) == name
    with pytest.raises(InvalidInput):
        camera_key("")


# --- the keeper, over both stores -----------------------------------------------------------


def test_the_keeper_keeps_what_it_takes_and_takes_only_free_keys(leases: LeaseStore) -> None:
    theirs = leases.acquire("camera.c", "other")
    assert theirs is not None
    lost: list[str] = []
    keeper = LeaseKeeper(leases, "me", on_lost=lost.append)
    keeper.start()
    try:
        wanted = ["camera.a", "camera.b", "camera.c", "camera.d"]
        assert [lease.key for lease in keeper.take(wanted, limit=2)] == ["camera.a", "camera.b"]
        (d,) = keeper.take(wanted)  # a and b held already, c another's
        assert d.key == "camera.d"
        tokens = {key: lease.token for key, lease in keeper.held().items()}
        time.sleep(2.5 * TTL_S)  # renewed all along; the other's lapsed
        assert lost == []
        assert {key: lease.token for key, lease in keeper.held().items()} == tokens
        assert {k: v.holder for k, v in leases.holders("camera.").items()} == dict.fromkeys(tokens, "me")
        keeper.release("camera.a")
        assert leases.holder("camera.a") is None and not keeper.holds("camera.a")
    finally:
        keeper.stop()
    assert leases.holders() == {} and keeper.held() == {}
    assert lost == []  # given up on purpose is not lost


def test_a_renewal_the_store_refuses_is_a_loss_told_at_once(leases: LeaseStore) -> None:
    lost: list[tuple[str, float]] = []
    keeper = LeaseKeeper(leases, "me", on_lost=lambda key: lost.append((key, time.monotonic())))
    keeper.start()
    try:
        (mine,) = keeper.take(["camera.a"])
        leases.release(mine)  # an operator frees the key behind the keeper's back
        taken = leases.acquire("camera.a", "thief")
        assert taken is not None
        stolen_at = time.monotonic()
        eventually(lambda: lost, timeout_s=TTL_S)
        assert lost[0][0] == "camera.a" and lost[0][1] - stolen_at < TTL_S / 2  # at the next renewal
        assert not keeper.holds("camera.a") and leases.holder("camera.a") == taken
    finally:
        keeper.stop()
    assert leases.holder("camera.a") == taken  # stopping gives back only what it holds


def test_a_singleton_always_runs_in_the_one_process_of_the_embedded_default() -> None:
    keeper = LeaseKeeper(EmbeddedLeases(), "me")
    purge = Singleton(keeper, "purge")
    ran: list[int] = []
    assert purge.run(lambda: ran.append(1)) and purge.run(lambda: ran.append(2))
    assert ran == [1, 2] and purge.holds and keeper.lease("singleton.purge") is not None
    purge.release()
    assert not purge.holds


def test_the_bus_setting_chooses_the_store(nats_server: NatsServer) -> None:
    assert isinstance(open_leases(""), EmbeddedLeases)
    store = open_leases(nats_server.url, ttl_s=TTL_S)
    try:
        assert isinstance(store, NatsLeases) and store.ttl_s == TTL_S
        assert store.acquire("singleton.purge", "a") is not None
    finally:
        store.close()
    with pytest.raises(Unavailable):  # its own connection, closed with it
        store.holder("singleton.purge")


# --- NATS: a store that can be away ---------------------------------------------------------


class Confirmed:
    """A lease store that notes when each key's latest acquisition or renewal that succeeded
    was sent: the store's TTL cannot run out before that moment plus the TTL."""

    def __init__(self, store: LeaseStore) -> None:
        self.store = store
        self.sent: dict[str, float] = {}

    @property
    def ttl_s(self) -> float:
        return self.store.ttl_s

    def acquire(self, key: str, holder: str) -> Lease | None:
        sent = time.monotonic()
        return self._note(sent, self.store.acquire(key, holder))

    def renew(self, lease: Lease) -> Lease | None:
        sent = time.monotonic()
        return self._note(sent, self.store.renew(lease))

    def renew_many(self, leases: Sequence[Lease]) -> list[Lease | None]:
        sent = time.monotonic()
        return [self._note(sent, lease) for lease in self.store.renew_many(leases)]

    def release(self, lease: Lease) -> None:
        self.store.release(lease)

    def holder(self, key: str) -> Lease | None:
        return self.store.holder(key)

    def holders(self, prefix: str = "") -> dict[str, Lease]:
        return self.store.holders(prefix)

    def close(self) -> None:
        self.store.close()

    def _note(self, sent: float, lease: Lease | None) -> Lease | None:
        if lease is not None:
            self.sent[lease.key] = sent
        return lease


def test_a_keeper_cut_off_from_nats_lets_go_before_the_ttl_and_leases_return_with_nats(
    nats_server: NatsServer,
) -> None:
    client = NatsClient(nats_server.url, name="cut-off")
    store = Confirmed(NatsLeases(client, TTL_S))
    lost: dict[str, float] = {}

    def on_lost(key: str) -> None:
        lost.setdefault(key, time.monotonic())

    keeper = LeaseKeeper(store, "cut-off", on_lost=on_lost)
    keeper.start()
    try:
        old = {lease.key: lease.token for lease in keeper.take(["camera.a", "singleton.purge"])}
        time.sleep(1.5 * TTL_S)
        assert lost == {} and set(keeper.held()) == set(old)
        nats_server.kill()
        killed = time.monotonic()
        eventually(lambda: len(lost) == len(old), timeout_s=2 * TTL_S)
        for key, at in lost.items():
            assert at < store.sent[key] + TTL_S  # before the lease could lapse in NATS
            assert at - killed < TTL_S
        assert keeper.held() == {} and not keeper.holds("camera.a")

        nats_server.restart()
        after = NatsClient(nats_server.url, name="after")
        try:
            newcomer = LeaseKeeper(NatsLeases(after, TTL_S), "newcomer")
            taken: dict[str, Lease] = {}

            def take_all() -> bool:
                taken.update({lease.key: lease for lease in newcomer.take(list(old))})
                return taken.keys() == old.keys()

            eventually(take_all, timeout_s=TTL_S + 10)
            assert all(lease.token > old[key] for key, lease in taken.items())  # tokens survive a restart
            newcomer.release_all()
        finally:
            after.close()
        assert lost.keys() == old.keys()  # the cut-off keeper did not take anything back unasked
    finally:
        keeper.stop(timeout_s=2)
        client.close()


class Process:
    """One process's view of a city: its NATS connection, lease keeper and a singleton job
    whose rounds it tries every 20 ms, noting when each round it ran began and ended."""

    def __init__(self, name: str, url: str) -> None:
        self.client = NatsClient(url, name=name)
        self.keeper = LeaseKeeper(NatsLeases(self.client, TTL_S), name)
        self.singleton = Singleton(self.keeper, "delivery")
        self.rounds: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"rounds-{name}", daemon=True)

    def start(self) -> None:
        self.keeper.start()
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            self.singleton.run(self._round)

    def _round(self) -> None:
        began = time.monotonic()
        time.sleep(0.01)
        self.rounds.append((began, time.monotonic()))

    def stop_rounds(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def close(self) -> None:
        self.stop_rounds()
        self.keeper.stop(timeout_s=2)
        self.client.close()


@pytest.mark.parametrize("end", ["stops", "loses its connection"])
def test_a_singleton_runs_in_one_process_at_a_time_and_moves_when_its_holder_ends(
    nats_server: NatsServer, end: str
) -> None:
    one, two = Process("one", nats_server.url), Process("two", nats_server.url)
    try:
        one.start()
        eventually(lambda: one.rounds, timeout_s=2)
        two.start()
        time.sleep(1.5 * TTL_S)  # past a TTL: the lease is renewed, never taken over
        assert len(one.rounds) > 10 and two.rounds == []
        ended = time.monotonic()
        if end == "stops":
            one.close()  # its keeper gives the lease back
        else:
            one.client.close()  # it goes on trying its rounds, but cannot renew
        eventually(lambda: two.rounds, timeout_s=TTL_S + 3)
        took_over = two.rounds[0][0]
        assert took_over - ended < TTL_S + 3
        if end == "stops":
            assert took_over - ended < TTL_S / 2  # released: free at once
        time.sleep(0.5)
        last_of_one = max(finished for _, finished in one.rounds)
        assert last_of_one < took_over  # never both at once
        assert all(began > last_of_one for began, _ in two.rounds)
    finally:
        one.close()
        two.close()
