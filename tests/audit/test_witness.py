"""The witness: signed heads outside the database. The pure comparison by tables; the file
under concurrent writers (threads and processes); the head written only after a commit."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from citywatch.audit.chain import (
    AuditEntry,
    Checkpoint,
    SignedHead,
    WitnessLine,
    WitnessRead,
    compared,
    head_json,
    parse_head,
    sign_anchor,
    sign_checkpoint,
    sign_head,
    verify,
)
from citywatch.audit.log import CHECKPOINT_EVERY, AuditLog
from citywatch.audit.witness import WitnessFile, read_witness
from citywatch.store.db import Database, open_database
from tests.audit.test_chain import KEY, chain, rechain

AT = "2026-11-27T08:00:00+00:00"


def witness_of(*heads: SignedHead, unreadable: tuple[int, ...] = ()) -> WitnessRead:
    return WitnessRead("w.jsonl", tuple(WitnessLine(i, h) for i, h in enumerate(heads, start=1)), unreadable)


def head(entries: list[AuditEntry], seq: int, key: Ed25519PrivateKey = KEY) -> SignedHead:
    return sign_head(key, seq, entries[seq - 1].hash, AT)


def all_heads(entries: list[AuditEntry]) -> WitnessRead:
    return witness_of(*(head(entries, e.seq) for e in entries))


# --- the pure comparison -------------------------------------------------------------------


def test_an_honest_chain_matches_its_witness_and_the_verdict_says_what_was_compared() -> None:
    entries = chain(20)
    v = verify(entries, [], KEY.public_key(), witness=all_heads(entries))
    assert v.ok and v.problems == () and v.notes == ()
    assert (v.first_seq, v.last_seq, v.checkpoints) == (1, 20, 0)
    assert v.witness is not None and v.witness.heads == 20 and v.witness.last == head(entries, 20)
    assert compared(v) == [
        "records 1–20 (20), chain and hashes",
        "0 signed checkpoint(s)",
        "retention anchor: none (the chain starts at record 1)",
        f"witness: w.jsonl, 20 signed head(s), last: record 20 (hash {entries[-1].hash[:16]}…, "
        "signed at 2026-11-27T08:00:00)",
    ]


def _forged(entries: list[AuditEntry], attack: str) -> list[AuditEntry]:
    if attack == "truncate one":
        return entries[:-1]
    if attack == "truncate five":
        return entries[:-5]
    if attack == "empty":
        return []
    if attack == "rewrite and rehash":
        changed = list(entries)
        changed[6] = dataclasses.replace(changed[6], actor="nobody")
        return rechain(changed)
    raise AssertionError(attack)


@pytest.mark.parametrize(
    ("attack", "first_bad", "reason"),
    [
        ("truncate one", 20, "records after 19 are gone: the witness w.jsonl saw record 20 "),
        ("truncate five", 16, "records after 15 are gone: the witness w.jsonl saw record 20 "),
        ("empty", 1, "every record is gone: the witness w.jsonl saw record 20 "),
        ("rewrite and rehash", 7, "record 7 differs from the head the witness signed at 2026-11-27T08:00:00"),
    ],
)
@pytest.mark.parametrize("witnessed", ["every commit", "only the last head"])
def test_attacks_the_chain_cannot_see_are_found_against_the_witness(
    attack: str, first_bad: int, reason: str, witnessed: str
) -> None:
    entries = chain(20)
    forged = _forged(entries, attack)
    assert verify(forged, [], KEY.public_key()).ok  # consistent with itself: only the witness tells
    witness = all_heads(entries) if witnessed == "every commit" else witness_of(head(entries, 20))
    v = verify(forged, [], KEY.public_key(), witness=witness)
    if witnessed == "only the last head" and attack == "rewrite and rehash":
        # the one head there is names record 20: the rewrite shows there, not where it began
        first_bad, reason = 20, "record 20 differs from the head the witness signed"
    assert not v.ok and v.first_bad_seq == first_bad and v.reason.startswith(reason), v.reason


@pytest.mark.parametrize(
    ("case", "ok", "reason"),
    [
        ("no file, log never written", True, ""),
        ("no file, records", False, "the witness file w.jsonl is missing, though the log holds records 1–5"),
        ("empty file, records", False, "the witness file w.jsonl holds no validly signed head"),
        ("head signed by another key", False, "witness line 1 (record 5) has a bad signature"),
        ("checkpoint signature as a head", False, "witness line 1 (record 5) has a bad signature"),
        ("head time altered", False, "witness line 1 (record 5) has a bad signature"),
        ("unreadable line beside a good one", True, ""),
        ("witness behind the log", True, ""),
    ],
)
def test_the_witness_file_itself(case: str, ok: bool, reason: str) -> None:
    entries = chain(5)
    good = head(entries, 5)
    witness = {
        "no file, log never written": WitnessRead("w.jsonl", None),
        "no file, records": WitnessRead("w.jsonl", None),
        "empty file, records": witness_of(),
        "head signed by another key": witness_of(head(entries, 5, Ed25519PrivateKey.generate())),
        "checkpoint signature as a head": witness_of(
            dataclasses.replace(good, signature=sign_checkpoint(KEY, 5, good.hash).signature)
        ),
        "head time altered": witness_of(dataclasses.replace(good, at="2030-01-01T00:00:00+00:00")),
        "unreadable line beside a good one": witness_of(good, unreadable=(2,)),
        "witness behind the log": witness_of(head(entries, 3)),
    }[case]
    stored = [] if case == "no file, log never written" else entries
    v = verify(stored, [], KEY.public_key(), witness=witness)
    assert v.ok is ok and v.reason.startswith(reason), v.reason
    if case == "unreadable line beside a good one":
        assert "witness line(s) 2 are not signed heads" in v.notes[0]
    if case == "witness behind the log":
        assert "records 4–5 are newer than the witness's last head (record 3)" in v.notes[0]


def test_heads_before_a_retention_anchor_are_not_compared_but_the_anchors_own_is() -> None:
    entries = chain(20)
    anchor = sign_anchor(KEY, 10, entries[9].hash)
    v = verify(entries[10:], [], KEY.public_key(), anchor, witness=all_heads(entries))
    assert v.ok and v.first_seq == 11, v.reason
    wrong = witness_of(sign_head(KEY, 10, "ab" * 32, AT), head(entries, 20))
    v = verify(entries[10:], [], KEY.public_key(), anchor, witness=wrong)
    assert not v.ok and v.reason.startswith("record 10 differs from the head the witness signed")


@pytest.mark.parametrize(
    ("n", "anchor_at", "present", "missing"),
    [
        (99, 0, [], None),
        (100, 0, [100], None),
        (100, 0, [], 100),
        (250, 0, [100], 200),
        (250, 150, [200], None),  # 100 was pruned behind the anchor
        (250, 150, [], 200),
        (250, 200, [], None),  # the anchor's own checkpoint went with the records it covers
    ],
)
def test_every_hundredth_record_has_its_checkpoint(
    n: int, anchor_at: int, present: list[int], missing: int | None
) -> None:
    entries = chain(n)
    anchor = sign_anchor(KEY, anchor_at, entries[anchor_at - 1].hash) if anchor_at else None
    cps = [sign_checkpoint(KEY, s, entries[s - 1].hash) for s in present]
    v = verify(entries[anchor_at:], cps, KEY.public_key(), anchor, checkpoint_every=CHECKPOINT_EVERY)
    if missing is None:
        assert v.ok, v.reason
    else:
        assert not v.ok and v.first_bad_seq == missing
        assert v.reason.startswith(f"the signed checkpoint of record {missing} is missing")


def test_head_lines_round_trip_and_junk_is_not_a_head() -> None:
    h = head(chain(3), 3)
    assert parse_head(head_json(h)) == h
    for junk in (
        "",
        "{",
        "[]",
        '{"seq": 1}',
        head_json(h)[:-3],
        head_json(h).replace('"seq":3', '"seq":true'),
        head_json(h).replace('"seq":3', '"seq":0'),
    ):
        assert parse_head(junk) is None, junk


# --- the file ------------------------------------------------------------------------------


def _write_many(path: str, worker: int, n: int) -> None:
    key = Ed25519PrivateKey.generate()
    w = WitnessFile(Path(path), fsync=False)
    for i in range(n):
        w.append(sign_head(key, worker * 10_000 + i + 1, f"{worker:02d}" * 32, AT))


def test_concurrent_writers_in_threads_and_processes_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "w.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), k, 150)) for k in range(3)]
    threads = [threading.Thread(target=_write_many, args=(str(path), 10 + k, 150)) for k in range(3)]
    for t in [*procs, *threads]:
        t.start()
    for t in [*procs, *threads]:
        t.join()
    assert all(p.exitcode == 0 for p in procs)
    read = read_witness(path)
    assert read.unreadable == () and read.lines is not None and len(read.lines) == 6 * 150
    assert {line.head.seq for line in read.lines} == {
        w * 10_000 + i + 1 for w in (0, 1, 2, 10, 11, 12) for i in range(150)
    }
    assert path.stat().st_mode & 0o077 == 0


def test_a_torn_last_line_is_unreadable_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    good = head(chain(3), 3)
    path.write_text(head_json(good) + "\n" + head_json(good)[:40])
    read = read_witness(path)
    assert read.lines == (WitnessLine(1, good),) and read.unreadable == (2,)
    assert read_witness(tmp_path / "absent.jsonl").lines is None


# --- AuditLog writes a head after every commit that appended, and only then ----------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    yield database
    database.close()


def _append(log: AuditLog, db: Database, n: int = 1) -> None:
    with db.session() as s:
        for i in range(n):
            log.append(s, actor="ann@local", role="admin", action="camera.start", object=f"camera:{i}")


def test_one_head_per_commit_naming_its_newest_record(tmp_path: Path, db: Database) -> None:
    witness = WitnessFile(tmp_path / "w.jsonl")
    log = AuditLog(db, KEY, witness=witness)
    _append(log, db, 3)
    _append(log, db, 1)
    with db.session() as s:  # a session used for two transactions writes two heads
        log.append(s, actor="a", role="admin", action="x", object="y")
        s.commit()
        log.append(s, actor="a", role="admin", action="x", object="z")
    read = witness.read()
    assert read.lines is not None
    assert [line.head.seq for line in read.lines] == [3, 4, 5, 6]
    assert log.verify().ok


def test_a_rolled_back_append_writes_no_head(tmp_path: Path, db: Database) -> None:
    witness = WitnessFile(tmp_path / "w.jsonl")
    log = AuditLog(db, KEY, witness=witness)
    _append(log, db)
    with pytest.raises(RuntimeError), db.session() as s:
        log.append(s, actor="a", role="admin", action="x", object="y")
        raise RuntimeError("the action failed")
    _append(log, db)
    read = witness.read()
    assert read.lines is not None and [line.head.seq for line in read.lines] == [1, 2]
    assert log.verify().ok


def test_a_failed_witness_write_is_logged_and_the_action_stands(
    tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    log = AuditLog(db, KEY, witness=WitnessFile(blocker / "w.jsonl"))
    with caplog.at_level(logging.ERROR, logger="citywatch.audit.log"):
        _append(log, db)
    assert [e.seq for e in log.entries()] == [1]
    assert "audit witness" in caplog.text and "not written for record 1" in caplog.text


def test_concurrent_appends_from_threads_verify(tmp_path: Path, db: Database) -> None:
    log = AuditLog(db, KEY, witness=WitnessFile(tmp_path / "w.jsonl", fsync=False))

    def work() -> None:
        for _ in range(15):
            _append(log, db)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    v = log.verify()
    assert v.ok and v.records == 60 and v.witness is not None and v.witness.heads == 60
    assert v.witness.last is not None and v.witness.last.seq == 60


def test_checkpoint_starts_the_witness_of_a_log_written_before_it(tmp_path: Path, db: Database) -> None:
    _append(AuditLog(db, KEY), db, 4)  # no witness yet, as before the upgrade
    log = AuditLog(db, KEY, witness=WitnessFile(tmp_path / "w.jsonl"))
    assert "is missing, though the log holds records 1–4" in log.verify().reason
    cp = log.checkpoint()
    assert cp == Checkpoint(4, cp.hash, cp.signature) and log.verify().ok
