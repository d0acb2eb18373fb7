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
class Verdict:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str = ""
    anchor: Anchor | None = None
    """The retention anchor the chain was verified from (None: from the first record)."""


def verify(
    entries: Sequence[AuditEntry],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
    anchor: Anchor | None = None,
) -> Verdict:
    """Check the anchor (the latest one, when records were pruned), the chain record by
    record from it, then every checkpoint after it against the chain.

    The first problem found is reported with the sequence number where it starts.
    """
    start, prev = 0, GENESIS
    if anchor is not None:
        try:
            public_key.verify(bytes.fromhex(anchor.signature), anchor_message(anchor.seq, anchor.hash))
        except (InvalidSignature, ValueError):
            return Verdict(
                False,
                len(entries),
                anchor.seq,
                f"the retention anchor at record {anchor.seq} has a bad signature",
            )
        if not entries:  # a prune always leaves its own `audit.prune` record after the anchor
            return Verdict(
                False,
                0,
                anchor.seq + 1,
                f"every record after the retention anchor at record {anchor.seq} is gone",
            )
        if entries[0].seq <= anchor.seq:
            return Verdict(
                False,
                len(entries),
                entries[0].seq,
                f"record {entries[0].seq} comes before the retention anchor at record {anchor.seq} "
                f"(records 1–{anchor.seq} were pruned): the chain was restarted or altered",
            )
        start, prev = anchor.seq, anchor.hash
    elif entries and (first := min(e.seq for e in entries)) > 1:
        gap = "record 1 is" if first == 2 else f"records 1–{first - 1} are"
        return Verdict(False, len(entries), 1, f"{gap} missing and no signed retention anchor covers the gap")
    for position, entry in enumerate(entries, start=start + 1):
        if entry.seq != position:
            return Verdict(False, len(entries), position, f"record {position} is missing or out of order")
        if entry.prev_hash != prev:
            after = (
                f"the retention anchor at record {start}"
                if position == start + 1 and anchor is not None
                else f"record {position - 1}"
            )
            return Verdict(False, len(entries), position, f"record {position} does not follow {after}")
        if entry_hash(entry) != entry.hash:
            return Verdict(
                False, len(entries), position, f"record {position} was changed after it was written"
            )
        prev = entry.hash
    last = start + len(entries)
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        if cp.seq <= start:
            continue  # it covers pruned records; the anchor speaks for them
        try:
            public_key.verify(bytes.fromhex(cp.signature), checkpoint_message(cp.seq, cp.hash))
        except (InvalidSignature, ValueError):
            return Verdict(False, len(entries), cp.seq, f"checkpoint at record {cp.seq} has a bad signature")
        if cp.seq > last:
            return Verdict(
                False,
                len(entries),
                last + 1,
                f"records after {last} are gone (a signed checkpoint covers record {cp.seq})",
            )
        if entries[cp.seq - start - 1].hash != cp.hash:
            return Verdict(False, len(entries), cp.seq, f"record {cp.seq} differs from its signed checkpoint")
    return Verdict(True, len(entries), anchor=anchor)
