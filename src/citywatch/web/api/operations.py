"""Operations routes: health, readiness (public: ready or not and which checks failed, by name;
the checks in words behind metrics.read), Prometheus metrics, the OpenAPI schema and a docs page
drawn from it (no CDN, no JavaScript: deployments of this kind reach no outside host); and the
access log of every request (method, path, status, duration; never a header, query or body)."""

from __future__ import annotations

import html
import logging
import time
from typing import Annotated, Any

from fastapi import FastAPI, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citywatch import __version__
from citywatch.domain.access import Permission
from citywatch.web.api.auth import Caller, permissions_of, requires, runtime_of
from citywatch.web.api.errors import error_response
from citywatch.web.api.schemas.common import problems

log = logging.getLogger(__name__)
access_log = logging.getLogger("citywatch.web.api.access")

PERMISSION_KEY = "x-citywatch-permission"
"""Where the schema says which permission each operation needs (the one it declares)."""

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "version": "0.1.0"}]})

    status: str = Field(description="Always `ok`: the server answers.")
    version: str = Field(description="The citywatch version serving.")


class CheckPublic(BaseModel):
    name: str = Field(description="`database`, `schema`, `data_dir` or `cameras`.")
    ok: bool


class ReadinessPublic(BaseModel):
    """What anyone may know of readiness: whether, and which checks failed by name. Paths,
    camera ids and errors are in the server's log and at `/metrics/readiness` (metrics.read)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "checks": [
                        {"name": "database", "ok": True},
                        {"name": "schema", "ok": True},
                        {"name": "data_dir", "ok": True},
                        {"name": "cameras", "ok": True},
                    ],
                }
            ]
        }
    )

    status: str = Field(
        description="`ready`, or `degraded`: ready, but a check that is not critical failed (a "
        "camera is down: the console, the API and the public form still work)."
    )
    checks: list[CheckPublic]


class CheckDetail(CheckPublic):
    detail: str = Field(description="What was found, in words (paths, camera ids, errors).")


class ReadinessDetails(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "not ready",
                    "checks": [
                        {"name": "database", "ok": True, "detail": "answers"},
                        {"name": "schema", "ok": True, "detail": "at head 0007"},
                        {"name": "data_dir", "ok": True, "detail": "/var/lib/citywatch is writable"},
                        {
                            "name": "cameras",
                            "ok": False,
                            "detail": "camera workers not running: gate-1 (failed to open: …)",
                        },
                    ],
                }
            ]
        }
    )

    status: str = Field(description="`ready` or `not ready`.")
    checks: list[CheckDetail]


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself, each with its one permission, like every other route."""
    ops: dict[str, Any] = {"methods": ["GET"], "tags": ["operations"]}
    app.add_api_route("/healthz", healthz, **ops)
    app.add_api_route(
        "/readyz",
        readyz,
        response_model=ReadinessPublic,
        responses=problems(status.HTTP_503_SERVICE_UNAVAILABLE),
        **ops,
    )
    app.add_api_route(
        "/metrics/readiness",
        readyz_details,
        response_model=ReadinessDetails,
        responses=problems(status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN),
        **ops,
    )
    app.add_api_route(
        "/metrics",
        metrics,
        response_class=Response,
        responses={
            200: {
                "content": {METRICS_TYPE: {"example": 'citywatch_frames_total{camera="gate-1"} 1520.0\n'}},
                "description": "Prometheus text format: frames, faces, tracks, alerts, drops per "
                "camera; stage latencies; purges. No personal data.",
            },
            **problems(status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN),
        },
        **ops,
    )
    app.add_api_route("/openapi.json", openapi, include_in_schema=False, **ops)
    app.add_api_route("/docs", docs, include_in_schema=False, response_class=HTMLResponse, **ops)
    app.add_middleware(AccessLog)


def healthz(_: Annotated[Caller, requires(Permission.PUBLIC)]) -> Health:
    """The server is up (it reads nothing else)."""
    return Health(status="ok", version=__version__)


def readyz(
    request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]
) -> ReadinessPublic | JSONResponse:
    """Ready to serve: the database answers at the newest schema, the data folder takes writes
    (503 naming the failed checks otherwise). A camera that is down (failed to open, its
    worker stopped, being restarted or given up on) leaves the server ready but `degraded`,
    with `cameras` not ok; a supervised service down (purge, orders, delivery), with
    `services` not ok. Why a check
    failed (paths, camera ids, errors) goes to the log, not to anyone who asks."""
    result = runtime_of(request).readiness()
    said = "; ".join(f"{c.name}: {c.detail}" for c in result.problems)
    if said != getattr(request.app.state, "not_ready_said", ""):
        # once per change, not once per probe: a monitor polls this every few seconds
        if said:
            log.warning("%s: %s", "degraded" if result.ready else "not ready", said)
        else:
            log.info("ready again")
        request.app.state.not_ready_said = said
    if not result.ready:
        reasons = result.problems
        return error_response(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "not ready: " + ", ".join(c.name for c in reasons),
            errors=[{"loc": [c.name], "msg": "check failed", "type": "not_ready"} for c in reasons],
        )
    checks = [CheckPublic(name=c.name, ok=c.ok) for c in result.checks]
    return ReadinessPublic(status="degraded" if result.degraded else "ready", checks=checks)


def readyz_details(
    request: Request, _: Annotated[Caller, requires(Permission.METRICS_READ)]
) -> ReadinessDetails:
    """Each readiness check with what it found, in words, for whoever monitors the server
    (metrics.read). Always 200: the probe is /readyz; this says why."""
    result = runtime_of(request).readiness()
    return ReadinessDetails(
        status="not ready" if not result.ready else "degraded" if result.degraded else "ready",
        checks=[CheckDetail(name=c.name, ok=c.ok, detail=c.detail) for c in result.checks],
    )


def metrics(request: Request, _: Annotated[Caller, requires(Permission.METRICS_READ)]) -> Response:
    """Prometheus metrics of this server's runtime. Counts and latencies only: no names, no ids
    of people, nothing biometric."""
    return Response(runtime_of(request).metrics.exposition(), media_type=METRICS_TYPE)


def openapi(request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]) -> JSONResponse:
    """The OpenAPI schema of every route, with the permission each one needs."""
    return JSONResponse(schema_of(request.app))


def docs(request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]) -> HTMLResponse:
    """A plain page of the operations in the schema (the schema itself: /openapi.json)."""
    return HTMLResponse(docs_page(schema_of(request.app)))


def schema_of(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI schema, built once, each operation marked with its permission."""
    if app.openapi_schema is None:
        schema = app.openapi()
        for route in app.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                needed = ", ".join(str(p) for p in permissions_of(route))
                for method in route.methods or ():
                    operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                    if operation is not None:
                        operation[PERMISSION_KEY] = needed
        one_error_body(schema)
        binary_bodies(schema)
        fill_examples(schema.get("components", {}).get("schemas", {}))
    return app.openapi_schema or {}


def binary_bodies(schema: dict[str, Any]) -> None:
    """A success that is a file (an image, a zip), declared by its media type alone, is said
    to be bytes, so that each response of the schema has a schema."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for code, response in operation.get("responses", {}).items():
                for media, body in (response.get("content") or {}).items():
                    if code.startswith("2") and "json" not in media and "schema" not in body:
                        text = media.startswith("text/")
                        body["schema"] = (
                            {"type": "string"} if text else {"type": "string", "format": "binary"}
                        )


def one_error_body(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 it adds by itself as its own `HTTPValidationError`; the body is
    in fact the one error format (`citywatch.web.api.errors`), and the schema says so."""
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for code, response in operation.get("responses", {}).items():
                if code[0] in "45" and "HTTPValidationError" in str(response.get("content")):
                    response["content"] = body
    components = schema.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in str(schema.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)


_MISSING = object()


def fill_examples(components: dict[str, Any]) -> None:
    """Give a model without examples of its own (a page: `{items, next_before_id}`) one made of
    its fields' examples and defaults, so that each response in the schema shows an example
    without every wrapper repeating its items'. A model whose required fields have none is
    left as it is (the operations test names it)."""
    changed = True
    while changed:
        changed = False
        for model in components.values():
            if "examples" in model or "properties" not in model:
                continue
            example = {}
            for name, field in model["properties"].items():
                value = _example_of(field, components)
                if value is _MISSING:
                    if name in model.get("required", ()):
                        break
                    continue
                example[name] = value
            else:
                model["examples"] = [example]
                changed = True


def _example_of(field: dict[str, Any], components: dict[str, Any]) -> Any:
    if field.get("examples"):
        return field["examples"][0]
    if "example" in field:
        return field["example"]
    if "default" in field:
        return field["default"]
    if "$ref" in field:
        target = components.get(field["$ref"].rsplit("/", 1)[-1], {})
        return target["examples"][0] if target.get("examples") else _MISSING
    if field.get("type") == "array":
        item = _example_of(field.get("items", {}), components)
        return [] if item is _MISSING else [item]
    if "anyOf" in field:
        values = [_example_of(f, components) for f in field["anyOf"] if f.get("type") != "null"]
        found = [v for v in values if v is not _MISSING]
        if found:
            return found[0]
        return None if any(f.get("type") == "null" for f in field["anyOf"]) else _MISSING
    if "enum" in field:
        return field["enum"][0]
    return _MISSING


def docs_page(schema: dict[str, Any]) -> str:
    """Every operation by tag: method, path, permission, summary and the answers it may give."""
    by_tag: dict[str, list[str]] = {}
    for path, item in sorted(schema.get("paths", {}).items()):
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            codes = ", ".join(sorted(op["responses"]))
            text = (op.get("description") or op.get("summary") or "").strip().split("\n\n")[0]
            row = (
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(str(op.get(PERMISSION_KEY, '')))}</td>"
                f"<td>{html.escape(text)}</td><td>{html.escape(codes)}</td></tr>"
            )
            by_tag.setdefault((op.get("tags") or ["other"])[0], []).append(row)
    sections = "".join(
        f"<h2>{html.escape(tag)}</h2><table><tr><th>method</th><th>path</th><th>permission</th>"
        f"<th>what it does</th><th>answers</th></tr>{''.join(rows)}</table>"
        for tag, rows in sorted(by_tag.items())
    )
    info = schema.get("info", {})
    title = html.escape(f"{info.get('title', 'citywatch')} {info.get('version', '')} API")
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}</style>"
        f"</head><body><h1>{title}</h1><p>The full schema, with request and response bodies and "
        "examples: <a href=/openapi.json>/openapi.json</a>. Every error answers "
        "<code>{detail, code}</code>.</p>"
        f"{sections}</body></html>"
    )


class AccessLog:
    """Logs each request once it is answered: method, route, status and milliseconds.

    The route is the matched template (`/api/persons/{person_id}`), not the path: which
    record someone read is the audit log's to keep, not a log file's that more people see
    for longer. Headers, cookies, tokens, query strings and bodies are never read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500  # if the app fails before it answers, the server answers 500

        async def send_noting_status(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            ms = (time.perf_counter() - started) * 1000
            route = scope.get("route")  # set by the router on this same scope once it matched
            method = scope["method"]
            path = route.path if isinstance(route, APIRoute) else "(no route)"
            access_log.info(
                "%s %s %d %.1f ms",
                method,
                path,
                code,
                ms,
                extra={"method": method, "path": path, "status": code, "duration_ms": round(ms, 2)},
            )
