"""The audit chain, pure: how a record is hashed, how checkpoints are signed and checked,
and how a sequence of records is verified. No I/O, no clock.

Each record's hash covers its content and the previous record's hash; sequence numbers
run 1, 2, 3… without gaps. Deleting, inserting, reordering or editing a record therefore
breaks the chain at that record; cutting records off the end is caught by the signed
checkpoints, which name a sequence number and the hash the chain must have there.

Retention prunes the oldest records. A signed anchor then names the last record pruned and
its hash: the chain verifies from the record after it, whose `prev_hash` must be the
anchor's hash. Without a valid anchor, records missing at the start break the chain as
any other deletion does.

Neither catches an attacker who cuts records off the end together with their checkpoints,
or rewrites a record, re-hashes the (unkeyed) chain after it and deletes the checkpoints:
what is stored is consistent with itself. A signed head written after every commit to a
witness outside the database (`SignedHead`, citywatch.audit.witness) is what that chain is
compared with: no head may name a record beyond the stored head, and every head within the
stored records must name the hash stored there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS = "0" * 64
"""The `prev_hash` of the first record."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, when, on what, under which legal basis. Never biometric data."""

    seq: int
    at: str
    """UTC time, ISO 8601."""
    actor: str
    role: str
    action: str
    object: str
    legal_basis: str = ""
    authorisation: str = ""
    case: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    """Thresholds, model version, cameras, time window… (JSON values)."""
    result_count: int | None = None
    prev_hash: str = GENESIS
    hash: str = ""

    def content(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("hash")
        return body


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 of the record's canonical JSON (sorted keys, no spaces), previous hash included."""
    canonical = json.dumps(entry.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def sealed(entry: AuditEntry) -> AuditEntry:
    """The entry with its hash filled in."""
    return AuditEntry(**{**entry.content(), "hash": entry_hash(entry)})


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    signature: str
    """Ed25519 over `checkpoint_message(seq, hash)`, hex."""


def checkpoint_message(seq: int, head_hash: str) -> bytes:
    return f"citywatch-audit:{seq}:{head_hash}".encode()


def sign_checkpoint(key: Ed25519PrivateKey, seq: int, head_hash: str) -> Checkpoint:
    return Checkpoint(seq, head_hash, key.sign(checkpoint_message(seq, head_hash)).hex())


@dataclass(frozen=True, slots=True)
class Anchor:
    """Records 1..`seq` were pruned under retention; record `seq` had `hash`."""

    seq: int
    hash: str
    signature: str
    """Ed25519 over `anchor_message(seq, hash)`, hex."""


def anchor_message(seq: int, last_hash: str) -> bytes:
    """Distinct from `checkpoint_message`: a checkpoint's signature never passes for an anchor."""
    return f"citywatch-audit-anchor:{seq}:{last_hash}".encode()


def sign_anchor(key: Ed25519PrivateKey, seq: int, last_hash: str) -> Anchor:
    return Anchor(seq, last_hash, key.sign(anchor_message(seq, last_hash)).hex())


@dataclass(frozen=True, slots=True)
class SignedHead:
    """The head of the chain as it stood after a commit: its last record `seq` had `hash`.
    Written to the witness, outside the database, so that records cut off the end, or a chain
    rewritten and re-hashed from some record on, no longer match a statement the key signed."""

    seq: int
    hash: str
    at: str
    """When it was signed, UTC, ISO 8601 (signed too)."""
    signature: str
    """Ed25519 over `head_message(seq, hash, at)`, hex."""


def head_message(seq: int, head_hash: str, at: str) -> bytes:
    """Distinct from the checkpoint's and the anchor's messages: neither passes for a head."""
    return f"citywatch-audit-head:{seq}:{head_hash}:{at}".encode()


def sign_head(key: Ed25519PrivateKey, seq: int, head_hash: str, at: str) -> SignedHead:
    return SignedHead(seq, head_hash, at, key.sign(head_message(seq, head_hash, at)).hex())


def head_json(head: SignedHead) -> str:
    """One witness line (without its newline): canonical JSON, what `audit head` prints."""
    return json.dumps(asdict(head), sort_keys=True, separators=(",", ":"))


def parse_head(line: str) -> SignedHead | None:
    """A witness line back into a head; None when it is not one (a torn write, garbage)."""
    try:
        body = json.loads(line)
    except ValueError:
        return None
    if not isinstance(body, dict) or set(body) != {"seq", "hash", "at", "signature"}:
        return None
    seq, hash_, at, signature = body["seq"], body["hash"], body["at"], body["signature"]
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1):
        return None
    if not all(isinstance(v, str) for v in (hash_, at, signature)):
        return None
    return SignedHead(seq, hash_, at, signature)


@dataclass(frozen=True, slots=True)
class WitnessLine:
    number: int
    """1-based line number in the witness file."""
    head: SignedHead


@dataclass(frozen=True, slots=True)
class WitnessRead:
    """What a witness file held when read: `lines` None when there was no file at all."""

    source: str
    """Where it was read from (a path), for the verdict."""
    lines: tuple[WitnessLine, ...] | None
    unreadable: tuple[int, ...] = ()
    """Numbers of lines that are not a head (a write cut short by a crash, or garbage): they
    assert nothing, so they are reported, not counted against the log."""


@dataclass(frozen=True, slots=True)
class WitnessReport:
    """What verify compared against: the witness file and its newest validly signed head."""

    source: str
    present: bool
    heads: int
    """Lines whose signature verified."""
    last: SignedHead | None
    """The validly signed head with the highest sequence number."""
    unreadable: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int | None
    """The record where it starts (None: no one record, e.g. the witness file is gone)."""
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str = ""
    anchor: Anchor | None = None
    """The retention anchor the chain was verified from (None: from the first record)."""
    first_seq: int | None = None
    last_seq: int | None = None
    """The stored records compared, `first_seq`..`last_seq` (None: no record)."""
    checkpoints: int = 0
    """Signed checkpoints compared (those after the anchor)."""
    witness: WitnessReport | None = None
    """None: verified without a witness (none configured)."""
    problems: tuple[Problem, ...] = ()
    """Every problem found, one per kind of check, the first of them in `first_bad_seq`/`reason`."""
    notes: tuple[str, ...] = ()
    """What is worth knowing but breaks nothing (e.g. records newer than the witness's head)."""


def verify(
    entries: Sequence[AuditEntry],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
    anchor: Anchor | None = None,
    *,
    witness: WitnessRead | None = None,
    checkpoint_every: int = 0,
) -> Verdict:
    """Check the anchor (the latest one, when records were pruned), the chain record by
    record from it, every checkpoint after it against the chain, that every
    `checkpoint_every`-th record after the anchor has its checkpoint (0: none required), and
    the chain against the signed heads of the witness (None: no witness to compare with).

    `entries` are in sequence order. Each check reports the first problem it finds, with the
    sequence number where it starts; the verdict's `reason` is the first of them."""
    start = 0 if anchor is None else anchor.seq
    head = entries[-1].seq if entries else start
    problems = [
        p
        for p in (
            _anchor_or_chain(entries, public_key, anchor),
            _checkpoint_problem(entries, checkpoints, public_key, start, head),
            _missing_checkpoint(checkpoints, start, head, checkpoint_every),
        )
        if p is not None
    ]
    notes: list[str] = []
    report = None
    if witness is not None:
        report, found, notes = _against_witness(entries, checkpoints, public_key, anchor, witness)
        problems += found
    first = problems[0] if problems else None
    return Verdict(
        ok=first is None,
        records=len(entries),
        first_bad_seq=None if first is None else first.seq,
        reason="" if first is None else first.reason,
        anchor=anchor,
        first_seq=entries[0].seq if entries else None,
        last_seq=entries[-1].seq if entries else None,
        checkpoints=sum(1 for c in checkpoints if c.seq > start),
        witness=report,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _anchor_or_chain(
    entries: Sequence[AuditEntry], public_key: Ed25519PublicKey, anchor: Anchor | None
) -> Problem | None:
    """The anchor's signature and place, then the chain from it record by record."""
    start, prev = 0, GENESIS
    if anchor is not None:
        if not _signed(public_key, anchor.signature, anchor_message(anchor.seq, anchor.hash)):
            return Problem(anchor.seq, f"the retention anchor at record {anchor.seq} has a bad signature")
        if not entries:  # a prune always leaves its own `audit.prune` record after the anchor
            return Problem(
                anchor.seq + 1, f"every record after the retention anchor at record {anchor.seq} is gone"
            )
        if entries[0].seq <= anchor.seq:
            return Problem(
                entries[0].seq,
                f"record {entries[0].seq} comes before the retention anchor at record {anchor.seq} "
                f"(records 1–{anchor.seq} were pruned): the chain was restarted or altered",
            )
        start, prev = anchor.seq, anchor.hash
    elif entries and (first := min(e.seq for e in entries)) > 1:
        gap = "record 1 is" if first == 2 else f"records 1–{first - 1} are"
        return Problem(1, f"{gap} missing and no signed retention anchor covers the gap")
    for position, entry in enumerate(entries, start=start + 1):
        if entry.seq != position:
            return Problem(position, f"record {position} is missing or out of order")
        if entry.prev_hash != prev:
            after = (
                f"the retention anchor at record {start}"
                if position == start + 1 and anchor is not None
                else f"record {position - 1}"
            )
            return Problem(position, f"record {position} does not follow {after}")
        if entry_hash(entry) != entry.hash:
            return Problem(position, f"record {position} was changed after it was written")
        prev = entry.hash
    return None


def _checkpoint_problem(
    entries: Sequence[AuditEntry],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
    start: int,
    head: int,
) -> Problem | None:
    hashes = {e.seq: e.hash for e in entries}
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        if cp.seq <= start:
            continue  # it covers pruned records; the anchor speaks for them
        if not _signed(public_key, cp.signature, checkpoint_message(cp.seq, cp.hash)):
            return Problem(cp.seq, f"checkpoint at record {cp.seq} has a bad signature")
        if cp.seq > head:
            return Problem(
                head + 1, f"records after {head} are gone (a signed checkpoint covers record {cp.seq})"
            )
        if hashes.get(cp.seq) != cp.hash:
            return Problem(cp.seq, f"record {cp.seq} differs from its signed checkpoint")
    return None


def _missing_checkpoint(
    checkpoints: Sequence[Checkpoint], start: int, head: int, every: int
) -> Problem | None:
    """Every `every`-th record after the anchor (those before it were pruned with theirs)."""
    if every <= 0:
        return None
    have = {c.seq for c in checkpoints}
    missing = [s for s in range((start // every + 1) * every, head + 1, every) if s not in have]
    if not missing:
        return None
    named = ", ".join(str(s) for s in missing[:5]) + (
        f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    )
    return Problem(
        missing[0],
        f"the signed checkpoint of record {named} is missing "
        f"(one is written with every {every}th record): deleted",
    )


def _against_witness(
    entries: Sequence[AuditEntry],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
    anchor: Anchor | None,
    witness: WitnessRead,
) -> tuple[WitnessReport, list[Problem], list[str]]:
    """The witness's heads against the stored chain: each line's signature; no head beyond
    the stored head (truncation, emptying); every head within the stored records names the
    hash stored there (a rewritten, re-hashed chain)."""
    source = witness.source
    notes: list[str] = []
    if witness.unreadable:
        lines = ", ".join(str(n) for n in witness.unreadable[:5])
        notes.append(f"witness line(s) {lines} are not signed heads (a write cut short, or garbage): ignored")
    if witness.lines is None:
        report = WitnessReport(source, False, 0, None, len(witness.unreadable))
        missing, said = _without_witness_file(entries, checkpoints, anchor, source)
        notes += said
        return report, missing, notes
    valid, problems = _witnessed_heads(witness.lines, public_key)
    last = max(valid, key=lambda h: h.seq, default=None)
    report = WitnessReport(source, True, len(valid), last, len(witness.unreadable))
    start = 0 if anchor is None else anchor.seq
    head = entries[-1].seq if entries else start
    if last is None:
        if entries:
            problems.append(
                Problem(
                    None,
                    f"the witness file {source} holds no validly signed head, though the log holds "
                    f"records {entries[0].seq}–{head}",
                )
            )
        return report, problems, notes
    if last.seq > head:
        gone = "every record is gone" if not entries and anchor is None else f"records after {head} are gone"
        saw = f"record {last.seq} (hash {last.hash[:16]}…, signed at {last.at[:19]})"
        problems.append(Problem(head + 1, f"{gone}: the witness {source} saw {saw}"))
    rewritten = _rewritten(entries, anchor, valid)
    if rewritten is not None:
        problems.append(rewritten)
    if last.seq < head:
        notes.append(
            f"records {last.seq + 1}–{head} are newer than the witness's last head (record {last.seq}): "
            "written since it was read, or their commit's witness line was lost (a crash, a failed write)"
        )
    return report, problems, notes


def _without_witness_file(
    entries: Sequence[AuditEntry],
    checkpoints: Sequence[Checkpoint],
    anchor: Anchor | None,
    source: str,
) -> tuple[list[Problem], list[str]]:
    """What a missing witness file means: a problem once the log holds anything, else a note."""
    if entries or anchor is not None or checkpoints:
        held = f"records {entries[0].seq}–{entries[-1].seq}" if entries else "a retention anchor"
        missing = Problem(
            None,
            f"the witness file {source} is missing, though the log holds {held}: "
            "the witness was deleted or moved, so truncation cannot be ruled out",
        )
        return [missing], []
    return [], [f"no witness file at {source}, and the log was never written"]


def _witnessed_heads(
    lines: Sequence[WitnessLine], public_key: Ed25519PublicKey
) -> tuple[list[SignedHead], list[Problem]]:
    """The heads whose signature verifies, and a problem for the first line whose signature fails."""
    valid: list[SignedHead] = []
    problems: list[Problem] = []
    for line in lines:
        h = line.head
        if _signed(public_key, h.signature, head_message(h.seq, h.hash, h.at)):
            valid.append(h)
        elif not problems:
            problems.append(
                Problem(
                    h.seq,
                    f"witness line {line.number} (record {h.seq}) has a bad signature: forged or altered",
                )
            )
    return valid, problems


def _rewritten(
    entries: Sequence[AuditEntry], anchor: Anchor | None, valid: Sequence[SignedHead]
) -> Problem | None:
    """The first witnessed head (by sequence) whose hash differs from the one stored at its record."""
    hashes = {e.seq: e.hash for e in entries}
    if anchor is not None:
        hashes[anchor.seq] = anchor.hash
    for h in sorted(valid, key=lambda h: h.seq):
        stored = hashes.get(h.seq)
        if stored is not None and stored != h.hash:
            return Problem(
                h.seq,
                f"record {h.seq} differs from the head the witness signed at {h.at[:19]} "
                f"(witnessed {h.hash[:16]}…, stored {stored[:16]}…): it, or a record before it, "
                "was rewritten and the chain re-hashed",
            )
    return None


def _signed(public_key: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    try:
        public_key.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def compared(v: Verdict) -> list[str]:
    """What verify compared, one line each: the records, the checkpoints, the retention anchor,
    the witness and its last head. For the CLI, the API and the console alike."""
    records = f"records {v.first_seq}–{v.last_seq} ({v.records})" if v.first_seq is not None else "no records"
    lines = [f"{records}, chain and hashes", f"{v.checkpoints} signed checkpoint(s)"]
    lines.append(
        "retention anchor: none (the chain starts at record 1)"
        if v.anchor is None
        else f"retention anchor: record {v.anchor.seq} (hash {v.anchor.hash[:16]}…, signed)"
    )
    w = v.witness
    if w is None:
        lines.append("witness: none configured")
    elif not w.present:
        lines.append(f"witness: {w.source} (missing)")
    elif w.last is None:
        lines.append(f"witness: {w.source} (no validly signed head)")
    else:
        lines.append(
            f"witness: {w.source}, {w.heads} signed head(s), last: record {w.last.seq} "
            f"(hash {w.last.hash[:16]}…, signed at {w.last.at[:19]})"
        )
    return lines
