"""The audit chain, pure: how a record is hashed, how checkpoints are signed and checked,
and how a sequence of records is verified. No I/O, no clock.

Each record's hash covers its content and the previous record's hash; sequence numbers
run 1, 2, 3… without gaps. Deleting, inserting, reordering or editing a record therefore
breaks the chain at that record; cutting records off the end is caught by the signed
checkpoints, which name a sequence number and the hash the chain must have there.
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
class Verdict:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify(
    entries: Sequence[AuditEntry], checkpoints: Sequence[Checkpoint], public_key: Ed25519PublicKey
) -> Verdict:
    """Check the chain record by record, then every checkpoint against it.

    The first problem found is reported with the sequence number where it starts.
    """
    prev = GENESIS
    for position, entry in enumerate(entries, start=1):
        if entry.seq != position:
            return Verdict(False, len(entries), position, f"record {position} is missing or out of order")
        if entry.prev_hash != prev:
            return Verdict(
                False, len(entries), position, f"record {position} does not follow record {position - 1}"
            )
        if entry_hash(entry) != entry.hash:
            return Verdict(
                False, len(entries), position, f"record {position} was changed after it was written"
            )
        prev = entry.hash
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        try:
            public_key.verify(bytes.fromhex(cp.signature), checkpoint_message(cp.seq, cp.hash))
        except (InvalidSignature, ValueError):
            return Verdict(False, len(entries), cp.seq, f"checkpoint at record {cp.seq} has a bad signature")
        if cp.seq > len(entries):
            return Verdict(
                False,
                len(entries),
                len(entries) + 1,
                f"records after {len(entries)} are gone (a signed checkpoint covers record {cp.seq})",
            )
        if entries[cp.seq - 1].hash != cp.hash:
            return Verdict(False, len(entries), cp.seq, f"record {cp.seq} differs from its signed checkpoint")
    return Verdict(True, len(entries))
