"""Mutation tests: any change to the recorded chain is found by verify, and named."""

from __future__ import annotations

import dataclasses

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.audit.chain import GENESIS, AuditEntry, Checkpoint, sealed, sign_checkpoint, verify

KEY = Ed25519PrivateKey.generate()


def chain(n: int) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    prev = GENESIS
    for i in range(1, n + 1):
        e = sealed(
            AuditEntry(
                seq=i,
                at=f"2026-11-27T08:{i % 60:02d}:00+00:00",
                actor=f"user{i % 3}",
                role="operator",
                action="alert.acknowledge",
                object=f"alert:{i}",
                legal_basis="court order 77",
                params={"threshold": 0.6, "cameras": ["a", "b"]},
                result_count=i % 5,
                prev_hash=prev,
            )
        )
        out.append(e)
        prev = e.hash
    return out


def checkpoints(entries: list[AuditEntry]) -> list[Checkpoint]:
    return [sign_checkpoint(KEY, e.seq, e.hash) for e in entries if e.seq % 7 == 0 or e.seq == len(entries)]


def rechain(entries: list[AuditEntry]) -> list[AuditEntry]:
    """What an attacker with write access but no key would do: renumber and rehash everything."""
    out, prev = [], GENESIS
    for i, original in enumerate(entries, start=1):
        e = sealed(dataclasses.replace(original, seq=i, prev_hash=prev))
        out.append(e)
        prev = e.hash
    return out


def test_an_untouched_chain_verifies() -> None:
    entries = chain(30)
    v = verify(entries, checkpoints(entries), KEY.public_key())
    assert v.ok and v.records == 30 and v.first_bad_seq is None


MUTATIONS = ["flip", "flip_and_rehash", "delete", "reorder", "insert", "truncate"]


def mutated(entries: list[AuditEntry], kind: str, i: int) -> list[AuditEntry] | None:
    """`entries` with one forgery of `kind` at position `i` (None when it cannot be made)."""
    forged, n = list(entries), len(entries)
    if kind == "flip":
        forged[i] = dataclasses.replace(forged[i], actor="someone-else")
    elif kind == "flip_and_rehash":
        forged[i] = sealed(dataclasses.replace(forged[i], params={"threshold": 0.9}))
    elif kind == "delete":
        del forged[i]
    elif kind == "reorder":
        if n == 1:
            return None  # nothing to swap with
        j = (i + 1) % n
        forged[i], forged[j] = forged[j], forged[i]
    elif kind == "insert":
        forged.insert(i, sealed(dataclasses.replace(entries[i], action="policy.change", hash="")))
    elif kind == "truncate":
        forged = forged[:i] if i else forged[:-1]
    return forged


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=40),
    kind=st.sampled_from(MUTATIONS),
    where=st.floats(min_value=0, max_value=0.999),
    cover_up=st.booleans(),
)
def test_every_mutation_is_detected(n: int, kind: str, where: float, cover_up: bool) -> None:
    entries = chain(n)
    cps = checkpoints(entries)
    i = int(where * n)
    forged = mutated(entries, kind, i)
    assert forged is not None  # n >= 2
    if cover_up and kind != "flip":
        forged = rechain(forged)
    v = verify(forged, cps, KEY.public_key())
    assert not v.ok, (kind, i, cover_up)
    assert v.first_bad_seq is not None and 1 <= v.first_bad_seq <= n + 1
    assert v.reason


def test_a_forged_checkpoint_is_refused() -> None:
    entries = chain(5)
    other = Ed25519PrivateKey.generate()
    v = verify(entries, [sign_checkpoint(other, 5, entries[-1].hash)], KEY.public_key())
    assert not v.ok and "signature" in v.reason


def test_the_first_bad_record_is_named() -> None:
    entries = chain(10)
    entries[3] = dataclasses.replace(entries[3], object="alert:999")
    v = verify(entries, checkpoints(entries), KEY.public_key())
    assert (v.ok, v.first_bad_seq) == (False, 4)
    assert "record 4 was changed" in v.reason
