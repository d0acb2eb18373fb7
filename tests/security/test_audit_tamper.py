"""Issue 13, finding 3: the audit log cannot be cut short, emptied or rewritten without the key.

Each attack is made as an attacker with write access to the SQLite database but not to the
signing key would make it (plain SQL, the chain's public hashing), and `citywatch audit verify`
is run in process after it: it must fail (exit 1) and give the right reason. Before the
witness, every one of these verified "intact"."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from typer.testing import CliRunner

from citywatch.audit.chain import AuditEntry, entry_hash, head_json, parse_head, sign_head
from citywatch.audit.log import CHECKPOINT_EVERY
from citywatch.cli.main import app
from citywatch.config.pipeline import RetentionSettings
from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime
from tests.databases import stray_settings

RECORDS = 12
BIG = CHECKPOINT_EVERY + 3


@dataclass
class Site:
    data: Path
    env: dict[str, str]

    @property
    def db(self) -> Path:
        return self.data / "citywatch.db"

    @property
    def witness(self) -> Path:
        return self.data / "audit-witness.jsonl"

    def sql(self, *statements: str) -> None:
        con = sqlite3.connect(self.db)
        try:
            with con:
                for statement in statements:
                    con.execute(statement)
        finally:
            con.close()

    def cli(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args), env=self.env)
        return result.exit_code, result.output

    def verify(self, *extra: str) -> tuple[int, dict[str, Any]]:
        code, output = self.cli("audit", "verify", "--json", *extra)
        lines = [line for line in output.splitlines() if line.startswith("{")]
        assert lines, output
        return code, json.loads(lines[-1])


def honest(data: Path, n: int, *, per_commit: int = 1, age: timedelta | None = None) -> None:
    """`n` records written by citywatch itself, `per_commit` to a transaction."""
    rt = Runtime(Settings(data_dir=data))
    try:
        for start in range(0, n, per_commit):
            with rt.database.session() as s:
                for i in range(start, min(start + per_commit, n)):
                    rt.audit_log.append(
                        s,
                        actor="ann@local",
                        role="admin",
                        action="camera.start",
                        object=f"camera:{i}",
                        at=None if age is None else datetime.now(UTC) - age + i * timedelta(seconds=1),
                    )
    finally:
        rt.close()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    for key in stray_settings():
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    yield Site(data, {"CITYWATCH_DATA_DIR": str(data), "COLUMNS": "200"})


def rows(site: Site) -> list[AuditEntry]:
    con = sqlite3.connect(site.db)
    try:
        got = con.execute(
            "SELECT seq, at, actor, role, action, object, legal_basis, authorisation, case_ref, params, "
            "result_count, prev_hash, hash FROM audit_records ORDER BY seq"
        ).fetchall()
    finally:
        con.close()
    return [
        AuditEntry(
            seq=r[0],
            at=r[1],
            actor=r[2],
            role=r[3],
            action=r[4],
            object=r[5],
            legal_basis=r[6],
            authorisation=r[7],
            case=r[8],
            params=json.loads(r[9]),
            result_count=r[10],
            prev_hash=r[11],
            hash=r[12],
        )
        for r in got
    ]


def rewrite_and_rehash(site: Site, seq: int, actor: str) -> None:
    """Change record `seq`, then re-hash it and every record after it (the hash is unkeyed)."""
    statements, prev = [], None
    for e in rows(site):
        if e.seq < seq:
            prev = e.hash
            continue
        changed = AuditEntry(
            **{**e.content(), "actor": actor if e.seq == seq else e.actor, "prev_hash": prev or e.prev_hash}
        )
        new_hash = entry_hash(changed)
        statements.append(
            f"UPDATE audit_records SET actor = '{changed.actor}', prev_hash = '{changed.prev_hash}', "
            f"hash = '{new_hash}' WHERE seq = {e.seq}"
        )
        prev = new_hash
    site.sql(*statements)


# --- the honest log ----------------------------------------------------------------------


def test_an_honest_log_verifies_and_says_what_it_compared(site: Site) -> None:
    honest(site.data, RECORDS)
    code, v = site.verify()
    assert code == 0 and v["ok"] is True, v
    assert (v["first_seq"], v["last_seq"], v["records"], v["checkpoints"]) == (1, RECORDS, RECORDS, 0)
    witness = v["witness"]
    assert witness["source"] == str(site.witness) and witness["present"] and witness["heads"] == RECORDS
    assert witness["last"]["seq"] == RECORDS
    assert v["compared"][0] == f"records 1–{RECORDS} ({RECORDS}), chain and hashes"
    assert "retention anchor: none" in v["compared"][2]
    assert f"witness: {site.witness}" in v["compared"][3] and f"last: record {RECORDS} " in v["compared"][3]
    code, text = site.cli("audit", "verify")
    assert code == 0 and "audit log intact; compared:" in text and str(site.witness) in text


def test_a_never_written_log_verifies_without_a_witness_file(site: Site) -> None:
    code, v = site.verify()
    assert code == 0 and v["ok"] and v["witness"]["present"] is False
    assert "never written" in v["notes"][0]


# --- the attacks of the finding ----------------------------------------------------------


def test_deleting_the_newest_records_is_reported(site: Site) -> None:
    honest(site.data, RECORDS)
    site.sql(f"DELETE FROM audit_records WHERE seq > {RECORDS - 3}")
    code, v = site.verify()
    assert code == 1 and v["ok"] is False
    assert v["first_bad_seq"] == RECORDS - 2
    assert v["reason"].startswith(f"records after {RECORDS - 3} are gone: the witness {site.witness}")
    assert f"saw record {RECORDS} " in v["reason"]
    code, text = site.cli("audit", "verify")
    assert code == 1 and f"audit log broken at record {RECORDS - 2}" in text and "compared:" in text


def test_deleting_the_single_newest_record_is_reported(site: Site) -> None:
    honest(site.data, RECORDS)
    site.sql(f"DELETE FROM audit_records WHERE seq = {RECORDS}")
    code, v = site.verify()
    assert code == 1 and v["first_bad_seq"] == RECORDS and "are gone" in v["reason"]


def test_deleting_the_newest_records_with_their_checkpoints_is_reported(site: Site) -> None:
    honest(site.data, BIG, per_commit=10)  # one checkpoint, at record 100; 11 commits
    site.sql(
        f"DELETE FROM audit_records WHERE seq >= {CHECKPOINT_EVERY}",
        f"DELETE FROM audit_checkpoints WHERE seq >= {CHECKPOINT_EVERY}",
    )
    code, v = site.verify()
    assert code == 1 and v["first_bad_seq"] == CHECKPOINT_EVERY
    assert v["reason"].startswith(f"records after {CHECKPOINT_EVERY - 1} are gone: the witness")
    assert f"saw record {BIG} " in v["reason"]


def test_deleting_an_on_demand_checkpoint_and_the_records_it_covers_is_reported(site: Site) -> None:
    honest(site.data, RECORDS)
    assert site.cli("audit", "checkpoint")[0] == 0
    site.sql(f"DELETE FROM audit_records WHERE seq > {RECORDS - 2}", "DELETE FROM audit_checkpoints")
    code, v = site.verify()
    assert code == 1 and v["first_bad_seq"] == RECORDS - 1 and "are gone" in v["reason"]


def test_deleting_every_record_and_checkpoint_is_reported(site: Site) -> None:
    honest(site.data, BIG, per_commit=20)
    site.sql("DELETE FROM audit_records", "DELETE FROM audit_checkpoints", "DELETE FROM audit_anchors")
    code, v = site.verify()
    assert code == 1 and v["records"] == 0 and v["first_bad_seq"] == 1
    assert v["reason"].startswith(f"every record is gone: the witness {site.witness} saw record {BIG} ")


def test_a_rewritten_record_with_the_tail_rehashed_and_checkpoints_deleted_is_reported(site: Site) -> None:
    honest(site.data, RECORDS)
    rewrite_and_rehash(site, 5, "nobody")
    site.sql("DELETE FROM audit_checkpoints")
    assert rows(site)[4].actor == "nobody"  # the chain itself is consistent again
    code, v = site.verify()
    assert code == 1 and v["first_bad_seq"] == 5
    assert v["reason"].startswith("record 5 differs from the head the witness signed at")
    assert "rewritten and the chain re-hashed" in v["reason"]


def test_a_rewrite_past_a_checkpoint_is_reported_twice_over(site: Site) -> None:
    honest(site.data, BIG, per_commit=BIG)  # one commit: the witness has only the last head
    rewrite_and_rehash(site, 40, "nobody")
    site.sql("DELETE FROM audit_checkpoints")
    code, v = site.verify()
    assert code == 1
    reasons = [p["reason"] for p in v["problems"]]
    assert any(
        r.startswith(f"the signed checkpoint of record {CHECKPOINT_EVERY} is missing") for r in reasons
    )
    assert any(r.startswith(f"record {BIG} differs from the head the witness signed") for r in reasons)


def test_deleting_a_checkpoint_is_reported(site: Site) -> None:
    honest(site.data, BIG, per_commit=10)
    site.sql(f"DELETE FROM audit_checkpoints WHERE seq = {CHECKPOINT_EVERY}")
    code, v = site.verify()
    assert code == 1 and v["first_bad_seq"] == CHECKPOINT_EVERY
    assert v["reason"].startswith(f"the signed checkpoint of record {CHECKPOINT_EVERY} is missing")


def test_a_missing_witness_file_is_reported(site: Site) -> None:
    honest(site.data, RECORDS)
    site.witness.unlink()
    code, v = site.verify()
    assert code == 1 and v["first_bad_seq"] is None
    assert v["reason"].startswith(
        f"the witness file {site.witness} is missing, though the log holds records 1–"
    )


def test_a_witness_line_with_a_bad_signature_is_reported(site: Site) -> None:
    honest(site.data, RECORDS)
    lines = site.witness.read_text().splitlines()
    forged = json.loads(lines[2])
    forged["seq"] = 2 * RECORDS  # an attacker's claim, not signed by the key
    lines[2] = json.dumps(forged)
    site.witness.write_text("\n".join(lines) + "\n")
    code, v = site.verify()
    assert code == 1 and v["reason"] == (
        f"witness line 3 (record {2 * RECORDS}) has a bad signature: forged or altered"
    )


def test_truncation_is_found_against_a_head_shipped_elsewhere(site: Site, tmp_path: Path) -> None:
    """The operator ships `audit head` off the machine; an attacker who can also delete the local
    witness cannot undo what the shipped copy saw."""
    honest(site.data, RECORDS)
    code, line = site.cli("audit", "head")
    assert code == 0
    shipped = tmp_path / "elsewhere" / "heads.jsonl"
    shipped.parent.mkdir()
    shipped.write_text(line)
    head = parse_head(line.strip())
    assert head is not None and head.seq == RECORDS
    site.sql(f"DELETE FROM audit_records WHERE seq > {RECORDS - 4}")
    site.witness.unlink()
    code, v = site.verify("--witness", str(shipped))
    assert code == 1 and v["witness"]["source"] == str(shipped)
    assert v["reason"].startswith(f"records after {RECORDS - 4} are gone: the witness {shipped}")


def test_a_head_signed_with_another_key_does_not_pass(site: Site, tmp_path: Path) -> None:
    honest(site.data, RECORDS)
    last = rows(site)[-1]
    fake = tmp_path / "fake.jsonl"
    fake.write_text(
        head_json(sign_head(Ed25519PrivateKey.generate(), last.seq, last.hash, "2026-01-01")) + "\n"
    )
    code, v = site.verify("--witness", str(fake))
    assert code == 1 and "has a bad signature" in v["reason"]


def test_audit_head_refuses_to_sign_a_log_that_does_not_verify(site: Site) -> None:
    honest(site.data, RECORDS)
    site.sql(f"DELETE FROM audit_records WHERE seq = {RECORDS}")
    before = site.witness.read_text()
    code, text = site.cli("audit", "head")
    assert code == 1 and "no head signed" in text
    assert site.witness.read_text() == before


# --- retention: a floor, and a purge that names who ran it ---------------------------------


@pytest.mark.parametrize("days", [0.0001, 1, 30, 182.9])
def test_audit_retention_below_six_months_is_refused(site: Site, days: float) -> None:
    with pytest.raises(ValidationError, match=r"retention.audit_days must be at least 183 days"):
        RetentionSettings(audit_days=days)
    result = CliRunner().invoke(
        app, ["audit", "verify"], env={**site.env, "CITYWATCH_RETENTION__AUDIT_DAYS": str(days)}
    )
    assert result.exit_code != 0
    assert "retention.audit_days must be at least 183 days" in str(result.exception) + result.output


def test_audit_retention_must_outlive_the_data_it_accounts_for() -> None:
    with pytest.raises(ValidationError, match="must not be shorter than the longest other retention"):
        RetentionSettings(footage_days=400, audit_days=200)
    assert RetentionSettings(footage_days=400, audit_days=400).audit_days == 400


def test_a_purge_of_the_audit_log_names_who_ran_it_and_the_log_still_verifies(site: Site) -> None:
    honest(site.data, 6, age=timedelta(days=500))
    honest(site.data, 2)
    code, text = site.cli("purge")
    assert code == 0, text
    assert "audit records 1–6 pruned" in text
    (prune,) = [e for e in rows(site) if e.action == "audit.prune"]
    local = prune.actor
    assert local.endswith("@local") and prune.role == "local"  # the shell user, not "system"
    params = prune.params
    assert params["audit_days"] == 400.0 and params["cutoff"] == params["before"]
    started = params["started_by"]
    assert started["command"] == "citywatch purge" and started["actor"] == local
    assert started["unix_user"] == local and started["pid"] > 0
    assert started["config"] == "(defaults and environment)"
    code, v = site.verify()
    assert code == 0 and v["ok"], v
    assert v["anchor"]["seq"] == 6 and v["first_seq"] == 7
    assert v["witness"]["last"]["seq"] == v["last_seq"]


def test_a_prune_followed_by_truncation_is_still_reported(site: Site) -> None:
    honest(site.data, 6, age=timedelta(days=500))
    honest(site.data, 2)
    assert site.cli("purge")[0] == 0
    last = rows(site)[-1].seq
    site.sql(f"DELETE FROM audit_records WHERE seq = {last}")
    code, v = site.verify()
    assert code == 1 and v["first_bad_seq"] == last and "are gone" in v["reason"]


def test_the_scheduled_purge_names_the_runtime_and_its_config(tmp_path: Path) -> None:
    config = tmp_path / "citywatch.yaml"
    config.write_text("data_dir: data\n")
    honest(tmp_path / "data", 3, age=timedelta(days=500))
    rt = Runtime(Settings(data_dir=tmp_path / "data"), config_path=config)
    try:
        assert rt.purge() is not None
        (prune,) = [e for e in rt.audit_log.entries() if e.action == "audit.prune"]
    finally:
        rt.close()
    assert prune.actor == "citywatch@system"
    started = prune.params["started_by"]
    assert started["command"] == "citywatch run (scheduled purge)" and started["config"] == str(config)
    assert started["unix_user"].endswith("@local")
