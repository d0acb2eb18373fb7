"""The API benchmark's database filled to size: sightings, alerts and chained audit records."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select

from citywatch.audit.chain import GENESIS, AuditEntry, sealed, sign_checkpoint
from citywatch.audit.keys import load_or_create
from citywatch.audit.log import CHECKPOINT_EVERY
from citywatch.bench.progress import Progress, quiet
from citywatch.domain.audit import Action
from citywatch.domain.matching import MatchDecision
from citywatch.runtime.build import Runtime
from citywatch.store.audit_tables import AuditCheckpoint, AuditRecord
from citywatch.store.sighting_tables import Alert, Sighting

MODEL = "bench-model"
CHUNK = 10_000
AUDIT_ACTIONS = (
    (Action.ALERT_VIEW, 30),
    (Action.SIGHTING_VIEW, 25),
    (Action.SIGHTING_CROP, 15),
    (Action.ALERT_ACKNOWLEDGE, 8),
    (Action.ALERT_CONFIRM, 5),
    (Action.ALERT_DISMISS, 5),
    (Action.SEARCH_PHOTO, 4),
    (Action.CAMERA_MODE, 3),
    (Action.USER_LOGIN, 3),
    (Action.REQUEST_FILE, 1),
    (Action.HOLD_PLACE, 1),
)
"""What an audit log of a city deployment holds, by rough share: mostly people looking."""


@dataclass(frozen=True, slots=True)
class Fill:
    sightings: int
    alerts: int
    audit: int
    cameras: int
    days: int
    seconds: float


Person = tuple[int, str, int, str]
"""(person id, name, watchlist id, watchlist name)."""


@dataclass(frozen=True)
class _Plan:
    """Where and when each sighting is, which of them alert, and for whom."""

    first_id: int
    times: list[datetime]
    cams: np.ndarray
    alerted: np.ndarray
    people: list[Person]
    rng: np.random.Generator
    now: datetime


def fill(
    rt: Runtime,
    *,
    sightings: int,
    alerts: int,
    audit: int,
    cameras: int = 50,
    days: int = 30,
    seed: int = 0,
    progress: Progress = quiet,
) -> Fill:
    """Bulk-insert `sightings` over `cameras` (a few busy, many quiet) and the last `days` (more
    by day than by night), `alerts` of them matched with an alert (older ones mostly decided),
    and `audit` records appended to the audit chain as the audit log writes them (sealed,
    hash-linked, a signed checkpoint every CHECKPOINT_EVERY)."""
    if alerts > sightings:
        raise ValueError("there cannot be more alerts than sightings")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    since = now - timedelta(days=days)
    people = add_people(rt, min(200, max(alerts, 1)))
    times = _times(rng, sightings, since, days)
    weights = 1.0 / np.arange(1, cameras + 1)  # Zipf: the busiest camera sees the most
    cams = rng.choice(cameras, size=sightings, p=weights / weights.sum())
    alerted = np.zeros(sightings, dtype=bool)
    alerted[rng.choice(sightings, size=alerts, replace=False)] = True
    with rt.database.session(write=False) as session:
        first_id = (session.scalar(select(func.max(Sighting.id))) or 0) + 1
    plan = _Plan(first_id, times, cams, alerted, people, rng, now)
    for start in range(0, sightings, CHUNK):
        _insert_chunk(rt, plan, start, min(start + CHUNK, sightings))
        progress("sightings and alerts", min(start + CHUNK, sightings), sightings)
    _append_audit(rt, audit, since=since, now=now, rng=rng, progress=progress)
    return Fill(sightings, alerts, audit, cameras, days, time.perf_counter() - started)


def add_people(rt: Runtime, n: int) -> list[Person]:
    if not any(w.name == "bench" for w in rt.watchlists.list_watchlists()):
        rt.watchlists.create_watchlist("bench")
    watchlist = rt.watchlists.get_watchlist("bench")
    found = []
    for i in range(n):
        person = rt.watchlists.add_person("bench", f"Bench person {i:04d}")
        found.append((person.id, person.display_name, watchlist.id, watchlist.name))
    return found


def _times(rng: np.random.Generator, n: int, since: datetime, days: int) -> list[datetime]:
    """Sorted times over `days`: each day's hour drawn from a day-heavy profile."""
    hours = np.array([1, 1, 1, 1, 1, 2, 4, 8, 10, 9, 8, 8, 9, 8, 8, 9, 10, 10, 8, 6, 4, 3, 2, 1], float)
    day = rng.integers(0, days, n)
    hour = rng.choice(24, size=n, p=hours / hours.sum())
    second = rng.integers(0, 3600, n)
    offsets = np.sort(day * 86400 + hour * 3600 + second)
    return [since + timedelta(seconds=int(s)) for s in offsets]


def _insert_chunk(rt: Runtime, plan: _Plan, start: int, end: int) -> None:
    sightings: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    first_id, rng = plan.first_id, plan.rng
    for k in range(start, end):
        at = plan.times[k]
        camera = f"cam-{int(plan.cams[k]):04d}"
        row: dict[str, Any] = {
            "id": first_id + k,
            "camera_id": camera,
            "track_id": k,
            "day": at.strftime("%Y-%m-%d"),
            "started_at": at,
            "ended_at": at + timedelta(seconds=3),
            "detections": 5,
            "quality": 0.7,
            "crop_path": "crops/bench.jpg",
            "crop_sha256": "0" * 64,
            "model": MODEL,
            "template": None,
            "decision": str(MatchDecision.UNKNOWN),
            "created_at": at + timedelta(seconds=4),
        }
        if plan.alerted[k]:
            person_id, name, watchlist_id, watchlist = plan.people[int(rng.integers(0, len(plan.people)))]
            distance = float(rng.uniform(0.25, 0.5))
            row |= {
                "person_id": person_id,
                "person_name": name,
                "watchlist_id": watchlist_id,
                "distance": distance,
                "margin": 0.1,
                "decision": str(MatchDecision.MATCH),
            }
            status = (
                "new" if plan.now - at < timedelta(days=1) else str(rng.choice(["confirmed", "dismissed"]))
            )
            alerts.append(
                {
                    "sighting_id": first_id + k,
                    "camera_id": camera,
                    "person_id": person_id,
                    "person_name": name,
                    "watchlist_id": watchlist_id,
                    "watchlist_name": watchlist,
                    "distance": distance,
                    "status": status,
                    "created_at": at + timedelta(seconds=4),
                    "kind": "match",
                    "severity": "high",
                }
            )
        sightings.append(row)
    with rt.database.session() as session:
        session.execute(insert(Sighting), sightings)
        if alerts:
            session.execute(insert(Alert), alerts)


def _append_audit(
    rt: Runtime, n: int, *, since: datetime, now: datetime, rng: np.random.Generator, progress: Progress
) -> None:
    """`n` records continuing the chain from its head, as `AuditLog.append` seals them."""
    key = load_or_create(rt.settings.data_dir)
    actions = [a for a, _ in AUDIT_ACTIONS]
    shares = np.array([s for _, s in AUDIT_ACTIONS], float)
    actors = [(f"operator-{i:02d}", "operator") for i in range(16)] + [
        (f"supervisor-{i}", "supervisor") for i in range(4)
    ]
    with rt.database.session(write=False) as session:
        head = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).first()
    seq, prev = (0, GENESIS) if head is None else (head.seq, head.hash)
    span_s = max((now - since).total_seconds() - 3600, 1.0)
    offsets = np.sort(rng.uniform(0, span_s, n))
    for start in range(0, n, CHUNK):
        rows, checkpoints = [], []
        for k in range(start, min(start + CHUNK, n)):
            seq += 1
            actor, role = actors[int(rng.integers(0, len(actors)))]
            action = actions[int(rng.choice(len(actions), p=shares / shares.sum()))]
            first = int(rng.integers(1, 100_000))
            entry = sealed(
                AuditEntry(
                    seq=seq,
                    at=(since + timedelta(seconds=float(offsets[k]))).isoformat(),
                    actor=actor,
                    role=role,
                    action=action,
                    object=f"{action.split('.')[0]}s:{first}-{first + 49}",
                    legal_basis="",
                    authorisation="",
                    case="",
                    params={"limit": 50, "ids": [first, first + 49]},
                    result_count=50,
                    prev_hash=prev,
                )
            )
            prev = entry.hash
            rows.append(_audit_row(entry))
            if seq % CHECKPOINT_EVERY == 0:
                cp = sign_checkpoint(key, seq, entry.hash)
                checkpoints.append(
                    {"seq": cp.seq, "hash": cp.hash, "signature": cp.signature, "signed_at": entry.at}
                )
        with rt.database.session() as session:
            session.execute(insert(AuditRecord), rows)
            if checkpoints:
                session.execute(insert(AuditCheckpoint), checkpoints)
        progress("audit records", min(start + CHUNK, n), n)
    rt.audit_log.checkpoint()  # the witness's head covers the records written around AuditLog.append


def _audit_row(e: AuditEntry) -> dict[str, Any]:
    """The stored form of an entry, as `AuditLog.append` writes it."""
    return {
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "object": e.object,
        "legal_basis": e.legal_basis,
        "authorisation": e.authorisation,
        "case_ref": e.case,
        "params": json.dumps(e.params, sort_keys=True, separators=(",", ":")),
        "result_count": e.result_count,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }
