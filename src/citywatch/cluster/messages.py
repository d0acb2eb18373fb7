"""What travels on the bus between the processes of a city, and how it is written: a finished
track's sighting from a worker to the store consumers, a committed alert from the store to
every API replica's live feed.

A sighting message is JSON: the record's fields, its crop (base64), its template (base64 of
little-endian float32, or null where the mode keeps none) and its origin (the key it is
stored once under, the camera lease's fencing token). In watchlist mode the pipeline hands
nothing over for a face that matches no one (`pipeline.camera`), so such a template never
reaches the bus. A malformed message is `InvalidInput`, naming what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import numpy as np

from citywatch.alerts.delivery.message import AlertMessage
from citywatch.domain.bus import SUBJECT_ROOT
from citywatch.domain.errors import InvalidInput
from citywatch.domain.leases import camera_key
from citywatch.domain.matching import Candidate, MatchDecision, MatchResult
from citywatch.domain.records import SightingOrigin, SightingRecord

SIGHTINGS = f"{SUBJECT_ROOT}.sightings"
"""Sightings, one subject per camera (`citywatch.sightings.<camera>`)."""
ALERTS = f"{SUBJECT_ROOT}.alerts.raised"
"""Alerts once committed, for every API replica's live feed."""
VERSION = 1


def sighting_subject(camera_id: str) -> str:
    """The camera's sighting subject (its id as one subject token, dots escaped)."""
    return f"{SIGHTINGS}.{camera_key(camera_id).partition('.')[2]}"


def origin_of(record: SightingRecord, token: int) -> SightingOrigin:
    """Where a worker made `record`: one key per camera, lease and track."""
    started = int(record.started_at.timestamp() * 1_000_000)
    key = f"{camera_key(record.camera_id).partition('.')[2]}:{token}:{record.track_id}:{started}"
    return SightingOrigin(key=key, token=token)


def encode_sighting(record: SightingRecord, origin: SightingOrigin) -> bytes:
    template = None if record.template is None else _b64(np.asarray(record.template, dtype="<f4").tobytes())
    body = {
        "v": VERSION,
        "origin": {"key": origin.key, "token": origin.token},
        "camera_id": record.camera_id,
        "track_id": record.track_id,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat(),
        "detections": record.detections,
        "quality": record.quality,
        "crop": _b64(record.crop_jpeg),
        "model": record.model,
        "template": template,
        "match": _match(record.match),
        "authorisation_id": record.authorisation_id,
        "order_id": record.order_id,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode_sighting(payload: bytes) -> tuple[SightingRecord, SightingOrigin]:
    try:
        body = json.loads(payload)
        if body.get("v") != VERSION:
            raise InvalidInput(f"sighting message version {body.get('v')!r}, expected {VERSION}")
        template = body["template"]
        record = SightingRecord(
            camera_id=str(body["camera_id"]),
            track_id=int(body["track_id"]),
            started_at=datetime.fromisoformat(body["started_at"]),
            ended_at=datetime.fromisoformat(body["ended_at"]),
            detections=int(body["detections"]),
            quality=float(body["quality"]),
            crop_jpeg=base64.b64decode(body["crop"], validate=True),
            model=str(body["model"]),
            template=None if template is None else _template(template),
            match=_result(body["match"]),
            authorisation_id=_optional_int(body["authorisation_id"]),
            order_id=_optional_int(body["order_id"]),
        )
        origin = SightingOrigin(key=str(body["origin"]["key"]), token=int(body["origin"]["token"]))
    except InvalidInput:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise InvalidInput(f"malformed sighting message: {type(exc).__name__}: {exc}") from None
    return record, origin


def encode_alert(message: AlertMessage) -> bytes:
    return message.to_json().encode()


def decode_alert(payload: bytes) -> AlertMessage:
    try:
        return AlertMessage(**json.loads(payload))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"malformed alert message: {exc}") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _template(text: str) -> np.ndarray:
    raw = base64.b64decode(text, validate=True)
    if not raw or len(raw) % 4:
        raise InvalidInput(f"a template of {len(raw)} bytes is not float32 values")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _match(result: MatchResult) -> dict[str, Any]:
    return {
        "decision": result.decision.value,
        "best": None if result.best is None else asdict(result.best),
        "runner_up": None if result.runner_up is None else asdict(result.runner_up),
        "threshold": result.threshold,
        "margin_required": result.margin_required,
    }


def _result(body: dict[str, Any]) -> MatchResult:
    return MatchResult(
        decision=MatchDecision(body["decision"]),
        best=None if body["best"] is None else Candidate(**body["best"]),
        runner_up=None if body["runner_up"] is None else Candidate(**body["runner_up"]),
        threshold=float(body["threshold"]),
        margin_required=float(body["margin_required"]),
    )
