"""Retention of the audit log: pruned records leave a signed anchor the chain verifies from,
and a pruned chain is still tamper-evident (a deletion, a missing or forged anchor, fail)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from citywatch.audit.chain import Anchor, AuditEntry, sealed, sign_anchor, sign_checkpoint, verify
from citywatch.audit.log import CHECKPOINT_EVERY, PRUNE_ACTION, AuditLog
from citywatch.store.audit_tables import AuditAnchor, AuditCheckpoint, AuditRecord
from citywatch.store.db import Database, open_database
from tests.audit.test_chain import KEY, MUTATIONS, chain, checkpoints, mutated

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


# --- the pure chain ------------------------------------------------------------------------


def pruned(n: int, k: int) -> tuple[list[AuditEntry], Anchor]:
    """A chain of `n` records whose first `k` were pruned behind an anchor."""
    entries = chain(n)
    return entries[k:], sign_anchor(KEY, k, entries[k - 1].hash)


def test_an_anchored_chain_verifies_and_ignores_checkpoints_before_the_anchor() -> None:
    entries = chain(30)
    rest, anchor = entries[10:], sign_anchor(KEY, 10, entries[9].hash)
    v = verify(rest, checkpoints(entries), KEY.public_key(), anchor)  # checkpoint 7 covers a pruned record
    assert (v.ok, v.records, v.anchor) == (True, 20, anchor)


def rechain_from(entries: list[AuditEntry], start: int, prev: str) -> list[AuditEntry]:
    """An attacker's cover-up after the anchor: renumber and rehash from it (no key)."""
    out = []
    for i, original in enumerate(entries, start=start + 1):
        e = sealed(dataclasses.replace(original, seq=i, prev_hash=prev))
        out.append(e)
        prev = e.hash
    return out


@pytest.mark.parametrize(
    ("case", "reason", "first_bad"),
    [
        ("no anchor", "records 1–10 are missing and no signed retention anchor covers the gap", 1),
        ("one missing, no anchor", "record 1 is missing and no signed retention anchor", 1),
        ("forged anchor", "the retention anchor at record 10 has a bad signature", 10),
        ("hash of another record", "record 11 does not follow the retention anchor at record 10", 11),
        ("hash edited", "the retention anchor at record 10 has a bad signature", 10),
        ("checkpoint signature as anchor", "the retention anchor at record 10 has a bad signature", 10),
        ("anchor too low", "record 9 is missing or out of order", 9),
        ("first after anchor deleted", "record 11 is missing or out of order", 11),
        ("first after anchor deleted, rechained", "record 14 differs from its signed checkpoint", 14),
        ("middle deleted", "record 20 is missing or out of order", 20),
        (
            "everything after anchor deleted",
            "every record after the retention anchor at record 10 is gone",
            11,
        ),
        ("pruned record kept", "record 10 comes before the retention anchor at record 10", 10),
    ],
)
def test_a_pruned_chain_is_still_tamper_evident(case: str, reason: str, first_bad: int) -> None:
    entries = chain(30)
    cps = checkpoints(entries)
    rest: list[AuditEntry] = entries[10:]
    anchor: Anchor | None = sign_anchor(KEY, 10, entries[9].hash)
    if case == "no anchor":
        anchor = None
    elif case == "one missing, no anchor":
        rest, anchor = entries[1:], None
    elif case == "forged anchor":
        anchor = sign_anchor(Ed25519PrivateKey.generate(), 10, entries[9].hash)
    elif case == "hash of another record":
        anchor = sign_anchor(KEY, 10, entries[8].hash)
    elif case == "hash edited" and anchor is not None:
        anchor = dataclasses.replace(anchor, hash=entries[8].hash)
    elif case == "checkpoint signature as anchor":
        anchor = Anchor(10, entries[9].hash, sign_checkpoint(KEY, 10, entries[9].hash).signature)
    elif case == "anchor too low":
        anchor = sign_anchor(KEY, 8, entries[7].hash)
    elif case == "first after anchor deleted":
        rest = rest[1:]
    elif case == "first after anchor deleted, rechained":
        rest = rechain_from(rest[1:], 10, entries[9].hash)
    elif case == "middle deleted":
        del rest[9]
    elif case == "everything after anchor deleted":
        rest = []
    elif case == "pruned record kept":
        rest = entries[9:]
    v = verify(rest, cps, KEY.public_key(), anchor)
    assert not v.ok
    assert reason in v.reason
    assert v.first_bad_seq == first_bad


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=3, max_value=40),
    pruned_share=st.floats(min_value=0, max_value=0.9),
    kind=st.sampled_from(MUTATIONS),
    where=st.floats(min_value=0, max_value=0.999),
    cover_up=st.booleans(),
)
def test_every_mutation_after_the_anchor_is_detected(
    n: int, pruned_share: float, kind: str, where: float, cover_up: bool
) -> None:
    entries = chain(n)
    k = max(1, int(pruned_share * (n - 1)))
    rest, anchor = entries[k:], sign_anchor(KEY, k, entries[k - 1].hash)
    assert verify(rest, checkpoints(entries), KEY.public_key(), anchor).ok
    m = len(rest)
    i = int(where * m)
    forged = mutated(rest, kind, i)
    if forged is None:
        return
    if cover_up and kind != "flip":
        forged = rechain_from(forged, k, anchor.hash)
    v = verify(forged, checkpoints(entries), KEY.public_key(), anchor)
    assert not v.ok, (kind, k, i, cover_up)
    assert v.first_bad_seq is not None and k <= v.first_bad_seq <= n + 1
    assert v.reason


# --- the stored log ------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    yield database
    database.close()


@pytest.fixture
def log(db: Database) -> AuditLog:
    return AuditLog(db, KEY)


def append(log: AuditLog, db: Database, n: int, *, start: datetime = T0) -> None:
    """`n` records, one a minute from `start`."""
    with db.session() as s:
        for i in range(n):
            log.append(
                s, actor="ann@local", role="admin", action="x.y", object=f"o:{i}", at=start + i * MINUTE
            )


def test_prune_deletes_the_oldest_behind_a_signed_anchor_and_records_itself(
    log: AuditLog, db: Database
) -> None:
    append(log, db, 2 * CHECKPOINT_EVERY + 50)
    done = log.prune(before=T0 + CHECKPOINT_EVERY * MINUTE, now=T0 + 400 * MINUTE)
    assert done is not None
    span = done.anchor.pruned
    assert (span.first_seq, span.last_seq, span.count) == (1, CHECKPOINT_EVERY, CHECKPOINT_EVERY)
    assert span.first_at == T0.isoformat() and span.last_at == (T0 + 99 * MINUTE).isoformat()
    entries = log.entries()
    assert entries[0].seq == CHECKPOINT_EVERY + 1
    assert entries[-1] == done.record and done.record.action == PRUNE_ACTION
    assert done.record.seq == 2 * CHECKPOINT_EVERY + 51 and done.record.result_count == CHECKPOINT_EVERY
    assert done.record.params["seq_range"] == [1, CHECKPOINT_EVERY]
    assert done.record.params["anchor"]["hash"] == done.anchor.anchor.hash
    with db.session(write=False) as s:
        assert s.scalars(select(AuditCheckpoint.seq)).all() == [2 * CHECKPOINT_EVERY]
    assert log.anchors() == [done.anchor]
    v = log.verify()
    assert v.ok and v.anchor == done.anchor.anchor and v.records == CHECKPOINT_EVERY + 51


def test_prune_is_idempotent_and_later_prunes_chain_on(log: AuditLog, db: Database) -> None:
    append(log, db, 30)
    first = log.prune(before=T0 + 10 * MINUTE, now=T0 + 60 * MINUTE)
    assert first is not None
    after_first = log.entries()
    assert log.prune(before=T0 + 10 * MINUTE, now=T0 + 61 * MINUTE) is None
    assert log.entries() == after_first and len(log.anchors()) == 1
    second = log.prune(before=T0 + 20 * MINUTE, now=T0 + 62 * MINUTE)
    assert second is not None
    assert (second.anchor.pruned.first_seq, second.anchor.pruned.last_seq) == (11, 20)
    assert [a.anchor.seq for a in log.anchors()] == [10, 20]
    assert [e.seq for e in log.entries() if e.action == PRUNE_ACTION] == [31, 32]
    assert log.verify().ok


def test_pruning_every_record_leaves_the_prune_record_and_appends_continue(
    log: AuditLog, db: Database
) -> None:
    assert log.prune(before=T0, now=T0) is None  # an empty log: nothing to prune
    append(log, db, 5)
    done = log.prune(before=T0 + timedelta(days=1), now=T0 + timedelta(days=2))
    assert done is not None and done.anchor.pruned.count == 5
    (only,) = log.entries()
    assert (only.seq, only.prev_hash) == (6, done.anchor.anchor.hash)
    append(log, db, 1, start=T0 + timedelta(days=3))
    assert [e.seq for e in log.entries()] == [6, 7]
    assert log.verify().ok
    assert log.checkpoint() is not None and log.verify().ok


def test_a_record_written_under_a_clock_set_back_ends_the_pruned_run(log: AuditLog, db: Database) -> None:
    append(log, db, 3)
    append(log, db, 1, start=T0 + timedelta(days=10))  # seq 4: the clock jumped ahead
    append(log, db, 2, start=T0 + 5 * MINUTE)  # seq 5, 6: and back
    done = log.prune(before=T0 + timedelta(days=1), now=T0 + timedelta(days=2))
    assert done is not None and done.anchor.pruned.last_seq == 3  # contiguous: no hole at 4
    assert [e.seq for e in log.entries()] == [4, 5, 6, 7]
    assert log.verify().ok


def test_a_rolled_back_prune_leaves_everything(log: AuditLog, db: Database) -> None:
    append(log, db, 5)
    before = log.entries()
    with pytest.raises(RuntimeError), db.session() as s:
        log.prune_in(s, before=T0 + timedelta(days=1), now=T0, actor="system", role="system")
        raise RuntimeError("the purge failed")
    assert log.entries() == before and log.anchors() == []


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("delete the first record left", "record 11 is missing or out of order"),
        ("delete a record in the middle", "record 15 is missing or out of order"),
        ("delete the anchor", "records 1–10 are missing and no signed retention anchor"),
        ("edit the anchor's hash", "the retention anchor at record 10 has a bad signature"),
        ("re-sign the anchor with another key", "the retention anchor at record 10 has a bad signature"),
        ("delete the records and the anchor's prune record", "record 11 is missing or out of order"),
    ],
)
def test_tampering_with_a_pruned_log_is_found(log: AuditLog, db: Database, tamper: str, reason: str) -> None:
    append(log, db, 30)
    done = log.prune(before=T0 + 10 * MINUTE, now=T0 + timedelta(hours=1))
    assert done is not None and log.verify().ok
    with db.session() as s:
        if tamper == "delete the first record left":
            s.execute(delete(AuditRecord).where(AuditRecord.seq == 11))
        elif tamper == "delete a record in the middle":
            s.execute(delete(AuditRecord).where(AuditRecord.seq == 15))
        elif tamper == "delete the anchor":
            s.execute(delete(AuditAnchor))
        elif tamper == "edit the anchor's hash":
            s.execute(update(AuditAnchor).values(hash="f" * 64))
        elif tamper == "re-sign the anchor with another key":
            forged = sign_anchor(Ed25519PrivateKey.generate(), 10, done.anchor.anchor.hash)
            s.execute(update(AuditAnchor).values(signature=forged.signature))
        else:
            s.execute(delete(AuditRecord).where(AuditRecord.seq <= 20))
    v = log.verify()
    assert not v.ok and reason in v.reason, v.reason


def test_a_log_emptied_after_a_prune_does_not_pass_for_a_pruned_one(log: AuditLog, db: Database) -> None:
    append(log, db, 5)
    assert log.prune(before=T0 + timedelta(days=1), now=T0 + timedelta(days=2)) is not None
    with db.session() as s:
        s.execute(delete(AuditRecord))
    assert "every record after the retention anchor at record 5 is gone" in log.verify().reason
    append(log, db, 1, start=T0 + timedelta(days=3))  # the log goes on, from scratch
    v = log.verify()
    assert not v.ok and "record 1 comes before the retention anchor at record 5" in v.reason
