"""Operations: the OpenAPI schema (complete, one error body) and its docs page, readiness and
its reasons, Prometheus metrics counted through the composition root, JSON request logs."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from sqlalchemy import text

from citywatch.cli.logs import JsonFormatter
from citywatch.config.ingest import CameraSettings, SourceSettings
from citywatch.config.settings import Settings
from citywatch.domain.errors import Unavailable
from citywatch.domain.policy import ProcessingMode
from citywatch.pipeline.camera import PipelineStats
from citywatch.pipeline.worker import CameraStatus
from citywatch.runtime.metrics import CameraCounts, Metrics
from citywatch.store.db import head_revision
from citywatch.web.api.operations import PERMISSION_KEY
from citywatch.web.api.schemas.accountability import TransparencyPublic
from tests.fakes.vision import FakeDetector, FakeEmbedder, frame_with_faces
from tests.web.api.harness import Api, api_settings, open_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path_factory.mktemp("ops")))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Api]:
    """An API of its own, for tests that break it."""
    yield from open_api(api_settings(tmp_path))


# --- the schema and the docs page ------------------------------------------------------------


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _has_example(body: dict[str, Any], components: dict[str, Any]) -> bool:
    if "example" in body or "examples" in body:
        return True
    schema = body.get("schema", {})
    if "$ref" in schema:
        return bool(components[schema["$ref"].rsplit("/", 1)[-1]].get("examples"))
    return bool(schema.get("examples") or schema.get("format") == "binary")


def _documented(media: str, body: dict[str, Any], components: dict[str, Any]) -> bool:
    """JSON with an example; anything else (an image, a zip, an event stream) with a schema."""
    return _has_example(body, components) if "json" in media else "schema" in body


def test_the_schema_is_public_and_documents_every_route(api: Api) -> None:
    response = api.call("GET", "/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in json.dumps(schema)
    problems = []
    for method, path, op in _operations(schema):
        where = f"{method} {path}"
        if not op.get(PERMISSION_KEY):
            problems.append(f"{where}: no permission")
        answers = op["responses"]
        successes = [code for code in answers if code.startswith("2")]
        if not successes:
            problems.append(f"{where}: no success response")
        for code in successes:
            for media, body in answers[code].get("content", {}).items():
                if not _documented(media, body, components):
                    problems.append(f"{where}: {code} {media} has no example")
        for code, answer in answers.items():
            if code[0] in "45" and "ErrorBody" not in json.dumps(answer.get("content")):
                problems.append(f"{where}: {code} is not the one error body")
    assert problems == []


def test_every_declared_route_but_the_schema_and_docs_is_in_the_schema(api: Api) -> None:
    schema = api.call("GET", "/openapi.json").json()
    documented = {(m, p) for m, p, _ in _operations(schema)}
    routes = {
        (method, route.path_format)
        for route in api.client.app.routes  # type: ignore[attr-defined]
        for method in getattr(route, "methods", ()) or ()
        if getattr(route, "include_in_schema", False)
    }
    assert routes <= documented
    assert ("GET", "/metrics") in documented and ("GET", "/readyz") in documented


def test_a_filled_in_example_validates() -> None:
    example = TransparencyPublic.model_json_schema()["examples"][0]
    TransparencyPublic.model_validate(example)


def test_the_docs_page_lists_the_operations_and_loads_nothing_from_elsewhere(api: Api) -> None:
    response = api.call("GET", "/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    schema = api.call("GET", "/openapi.json").json()
    for path in schema["paths"]:
        assert f"<code>{path}</code>" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "metrics.read" in page  # each operation says which permission it needs


def _stills(api: Api, tmp_path: Path) -> Path:
    """Three frames of two faces each in a folder, and fake models in the runtime (its own
    wiring otherwise: pipeline, worker, metrics)."""
    api.rt.detector = FakeDetector()
    api.rt.embedder = FakeEmbedder()
    folder = tmp_path / "stills"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), frame_with_faces([(50, 50, 200), (300, 100, 90)]))
    return folder


# --- health and readiness --------------------------------------------------------------------


def test_healthz_and_readyz_need_no_sign_in(api: Api) -> None:
    assert api.call("GET", "/healthz").json()["status"] == "ok"
    response = api.call("GET", "/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == [  # no cameras built; nothing but names and answers
        {"name": "database", "ok": True},
        {"name": "schema", "ok": True},
        {"name": "data_dir", "ok": True},
    ]
    assert str(api.rt.settings.data_dir) not in response.text


def _not_ready(
    api: Api, caplog: pytest.LogCaptureFixture, *, signed_in: bool = True
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The public answer (names only), the detailed one (metrics.read; none where no one can
    sign in, the database being gone) and what was logged."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="citywatch.web.api.operations"):
        response = api.call("GET", "/readyz")
    assert response.status_code == 503
    body: dict[str, Any] = response.json()
    assert body["code"] == "unavailable" and body["detail"].startswith("not ready: ")
    assert [e["msg"] for e in body["errors"]] == ["check failed"] * len(body["errors"])
    assert str(api.rt.settings.data_dir) not in response.text
    if not signed_in:
        return body, {}, caplog.text
    assert api.call("GET", "/metrics/readiness").status_code == 401
    assert api.call("GET", "/metrics/readiness", "olga").status_code == 403
    details = api.call("GET", "/metrics/readiness", "ada")
    assert details.status_code == 200 and details.json()["status"] == "not ready"
    return body, details.json(), caplog.text


def failed_detail(details: dict[str, Any]) -> str:
    return " ".join(c["detail"] for c in details["checks"] if not c["ok"])


def test_readyz_fails_when_the_database_is_gone(fresh: Api, caplog: pytest.LogCaptureFixture) -> None:
    fresh.rt.database.close()  # every pooled connection goes; the next opens the file again
    for path in fresh.rt.settings.data_dir.glob("citywatch.db*"):
        path.unlink()
    body, _, logged = _not_ready(fresh, caplog, signed_in=False)
    assert [e["loc"] for e in body["errors"]] == [["database"]] and body["detail"] == "not ready: database"
    assert "does not answer" in logged  # a new, empty file has no schema at all
    assert "does not answer" not in str(body)


def test_readyz_fails_when_the_schema_is_behind(fresh: Api, caplog: pytest.LogCaptureFixture) -> None:
    with fresh.rt.database.session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    body, details, logged = _not_ready(fresh, caplog)
    assert body["detail"] == "not ready: schema"
    words = f"schema at revision 0001, not at head {head_revision()}"
    assert words in failed_detail(details) and words in logged


def test_readyz_logs_why_once_per_change_not_once_per_probe(
    fresh: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with fresh.rt.database.session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    with caplog.at_level(logging.INFO, logger="citywatch.web.api.operations"):
        for _ in range(3):
            assert fresh.call("GET", "/readyz").status_code == 503
        with fresh.rt.database.session() as session:
            session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head_revision()})
        assert fresh.call("GET", "/readyz").status_code == 200
        assert fresh.call("GET", "/readyz").status_code == 200
    said = [r.getMessage() for r in caplog.records if r.name == "citywatch.web.api.operations"]
    behind = f"not ready: schema: schema at revision 0001, not at head {head_revision()}"
    assert said == [behind, "ready again"]


def test_readyz_fails_when_the_data_folder_takes_no_files(
    fresh: Api, caplog: pytest.LogCaptureFixture
) -> None:
    data = fresh.rt.settings.data_dir
    moved = data.with_name("moved")
    data.rename(moved)  # the database stays open on the moved file
    data.write_text("not a folder")
    try:
        body, details, logged = _not_ready(fresh, caplog)
        assert [e["loc"] for e in body["errors"]] == [["data_dir"]]
        assert str(data) in failed_detail(details) and str(data) in logged
    finally:
        data.unlink()
        moved.rename(data)


def _degraded(api: Api, caplog: pytest.LogCaptureFixture) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A camera down: still ready (200), `degraded`, `cameras` not ok; names only in public."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="citywatch.web.api.operations"):
        response = api.call("GET", "/readyz")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "degraded"
    assert [c["name"] for c in body["checks"] if not c["ok"]] == ["cameras"]
    details = api.call("GET", "/metrics/readiness", "ada")
    assert details.status_code == 200 and details.json()["status"] == "degraded"
    return body, details.json(), caplog.text


def test_readyz_is_degraded_not_failed_when_a_live_camera_worker_has_stopped(
    fresh: Api, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _stills(fresh, tmp_path)
    replayed = CameraSettings(id="gate-1", url=str(folder), source=SourceSettings(replay=True))
    worker = fresh.rt.camera_worker(replayed)  # live: its end is a stop, not a finished file
    assert fresh.call("GET", "/readyz").status_code == 200  # built, not started yet: starting
    worker.start()
    assert worker.join(20)
    body, details, logged = _degraded(fresh, caplog)
    assert "gate-1" not in str(body)  # which camera, and why: the log and /metrics/readiness
    assert "gate-1" in failed_detail(details) and "gate-1" in logged


def test_readyz_is_degraded_when_a_camera_failed_to_open(
    fresh: Api, caplog: pytest.LogCaptureFixture
) -> None:
    fresh.rt.live.fail("gate-1", "cannot open rtsp://gate-1: connection refused")
    body, details, logged = _degraded(fresh, caplog)
    assert "degraded: cameras:" in logged
    assert "connection refused" not in str(body)
    assert "gate-1 (failed to open: cannot open rtsp://gate-1: connection refused)" in failed_detail(details)
    assert "connection refused" in logged


# --- metrics ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "code"), [(None, 401), ("olga", 403), ("aude", 403), ("ada", 200)])
def test_metrics_need_their_permission(api: Api, user: str | None, code: int) -> None:
    response = api.call("GET", "/metrics", user)
    assert response.status_code == code
    if code == 200:
        assert response.headers["content-type"].startswith("text/plain")
    else:
        assert set(response.json()) >= {"detail", "code"}


def test_metrics_count_frames_faces_and_stage_latency_through_the_runtime(fresh: Api, tmp_path: Path) -> None:
    rt = fresh.rt
    folder = _stills(fresh, tmp_path)
    worker = rt.camera_worker(CameraSettings(id="gate-1", url=str(folder), mode=ProcessingMode.DETECT))
    worker.start()
    assert worker.join(20)
    text_ = fresh.call("GET", "/metrics", "ada").text
    assert 'citywatch_frames_total{camera="gate-1"} 3.0' in text_
    assert 'citywatch_faces_detected_total{camera="gate-1"} 6.0' in text_
    assert 'citywatch_stage_seconds_count{stage="detect"} 3.0' in text_
    assert 'citywatch_camera_running{camera="gate-1"} 0.0' in text_  # a folder ends


def test_metrics_count_alerts_drops_and_purges_without_personal_data() -> None:
    stats = PipelineStats(frames=10, tracks=4, sightings=3, matches=2, alerts=1)
    status = CameraStatus("gate-1", "running", 12, 2, 5.0, 1, 3, 2, 1, 0, None)
    unopened = CameraStatus.failed("hall-2", "cannot open rtsp://hall-2")
    metrics = Metrics(lambda: [CameraCounts(status, stats), CameraCounts(unopened, PipelineStats())])
    metrics.purged({"sightings": 120, "alerts": 3})
    metrics.purged({"sightings": 5, "alerts": 0})
    exposition = metrics.exposition().decode()
    for line in (
        'citywatch_alerts_total{camera="gate-1"} 1.0',
        'citywatch_frames_dropped_total{camera="gate-1"} 2.0',
        'citywatch_tracks_total{camera="gate-1"} 4.0',
        'citywatch_camera_running{camera="gate-1"} 1.0',
        'citywatch_camera_running{camera="hall-2"} 0.0',  # failed to open: counted, not running
        'citywatch_frames_total{camera="hall-2"} 0.0',
        "citywatch_purges_total 2.0",
        'citywatch_purged_total{data_class="sightings"} 125.0',
    ):
        assert line in exposition
    labels = {part.split("=")[0] for part in exposition.replace("{", ",").replace("}", ",").split(",")}
    assert not labels & {"person", "person_id", "watchlist", "user", "name"}


def test_a_camera_that_failed_to_open_is_in_the_runtimes_metrics(fresh: Api) -> None:
    fresh.rt.live.fail("gate-1", "cannot open rtsp://gate-1")
    text_ = fresh.call("GET", "/metrics", "ada").text
    assert 'citywatch_camera_running{camera="gate-1"} 0.0' in text_


def test_metrics_registries_are_per_runtime() -> None:
    one, two = Metrics(), Metrics()
    one.stage("detect", 0.01)
    assert "citywatch_stage_seconds_count" in one.exposition().decode()
    assert "citywatch_stage_seconds_count" not in two.exposition().decode()


# --- JSON logs -------------------------------------------------------------------------------


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_request_logs_are_json_with_method_route_status_duration_and_no_secret(api: Api) -> None:
    handler = _Lines()
    access = logging.getLogger("citywatch.web.api.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        token = api.tokens["ada"]
        api.call("GET", "/api/alerts?limit=3", "ada", headers={"Cookie": "citywatch_session=s3cret"})
        api.call("GET", "/api/sightings/999999/crop", "ada")
    finally:
        access.removeHandler(handler)
    records = [json.loads(line) for line in handler.lines]
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("GET", "/api/alerts", 200),
        ("GET", "/api/sightings/{sighting_id}/crop", 404),  # the route, not the record's id
    ]
    for r in records:
        assert r["level"] == "info" and r["logger"] == "citywatch.web.api.access"
        assert isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0
    logged = "\n".join(handler.lines)
    assert token not in logged and "s3cret" not in logged and "limit=3" not in logged


def test_the_json_formatter_writes_one_object_per_record_with_the_exception() -> None:
    record = logging.makeLogRecord({"name": "x", "levelname": "ERROR", "msg": "a %s", "args": ("b",)})
    try:
        raise Unavailable("disk full")
    except Unavailable:
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "a b" and parsed["level"] == "error"
    assert "Unavailable: disk full" in parsed["exception"]


def test_logging_format_is_a_setting(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).logging.format == "text"
    assert Settings(data_dir=tmp_path, logging={"format": "json"}).logging.format == "json"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format"):
        Settings(data_dir=tmp_path, logging={"format": "xml"})  # type: ignore[arg-type]


# --- found by schemathesis -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/persons/9223372036854775808"),
        ("POST", "/api/exports/9223372036854775808/verify"),
        ("GET", "/api/sightings/9223372036854775808/crop"),
        ("GET", "/api/alerts?before_id=9223372036854775808"),
    ],
)
def test_an_id_beyond_64_bits_is_invalid_input_not_a_server_error(api: Api, method: str, path: str) -> None:
    response = api.call(method, path, "ada")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
