"""One error format for every API error: `{"detail": "...", "code": "..."}`, mapped once here
from citywatch's error hierarchy, FastAPI's HTTP errors and request validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from citywatch.domain.errors import (
    CitywatchError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooLarge,
    Unavailable,
)

_STATUS: tuple[tuple[type[CitywatchError], int, str], ...] = (
    (NotFound, status.HTTP_404_NOT_FOUND, "not_found"),
    (PermissionDenied, status.HTTP_403_FORBIDDEN, "forbidden"),
    (Conflict, status.HTTP_409_CONFLICT, "conflict"),
    (TooLarge, status.HTTP_413_CONTENT_TOO_LARGE, "too_large"),
    (InvalidInput, status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_input"),
    (Unavailable, status.HTTP_503_SERVICE_UNAVAILABLE, "unavailable"),
)

_CODES: dict[int, str] = {
    status.HTTP_400_BAD_REQUEST: "bad_request",
    status.HTTP_401_UNAUTHORIZED: "unauthorised",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_413_CONTENT_TOO_LARGE: "too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_422_UNPROCESSABLE_CONTENT: "invalid_input",
    status.HTTP_429_TOO_MANY_REQUESTS: "too_many_requests",
    status.HTTP_503_SERVICE_UNAVAILABLE: "unavailable",
}


class ErrorBody(BaseModel):
    """Every error the API answers, whatever raised it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "no alert with id 42", "code": "not_found"}]}
    )

    detail: str = Field(description="What went wrong, in words a person can act on.")
    code: str = Field(description="A stable machine-readable kind: not_found, forbidden, invalid_input, …")
    errors: list[dict[str, Any]] | None = Field(
        None, description="For a malformed request: each field that failed and why."
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)
}
"""`responses=` for routes: the error format in the OpenAPI schema."""


ErrorPage = Callable[[Request, int, str], Response]
"""Renders an error as a page for a person (the console's), given the status and detail."""


def add_handlers(app: FastAPI, page: ErrorPage | None = None) -> None:
    """The error handlers: JSON for programs; for a browser opening a page outside /api/,
    `page` (the console's error page) when given."""
    app.state.error_page = page
    app.add_exception_handler(CitywatchError, _citywatch_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


def error_response(
    status_code: int,
    detail: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = ErrorBody(detail=detail, code=code or _CODES.get(status_code, "error"), errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status_code, headers=headers)


async def _citywatch_error(request: Request, exc: Exception) -> Response:
    code, name = next(
        ((c, n) for kind, c, n in _STATUS if isinstance(exc, kind)),
        (status.HTTP_500_INTERNAL_SERVER_ERROR, "internal"),
    )
    if _for_a_person(request):
        return _error_page(request, code, str(exc))
    return error_response(code, str(exc), code=name)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # registered for this type only
        raise exc
    headers = None if exc.headers is None else dict(exc.headers)
    if _for_a_person(request) and exc.status_code >= 400:
        return _error_page(request, exc.status_code, str(exc.detail), headers)
    return error_response(exc.status_code, str(exc.detail), headers=headers)


def _for_a_person(request: Request) -> bool:
    """A console page (not under /api/) opened by a browser, where the app renders pages:
    errors come as a page, not JSON."""
    path = request.url.path
    return (
        getattr(request.app.state, "error_page", None) is not None
        and not path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
    )


def _error_page(request: Request, code: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    page: ErrorPage = request.app.state.error_page
    response = page(request, code, detail)
    response.headers.update(headers or {})
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # registered for this type only
        raise exc
    errors = [
        {k: v for k, v in e.items() if k in {"loc", "msg", "type"}} for e in jsonable_encoder(exc.errors())
    ]
    where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT, f"malformed request: {where}", code="malformed", errors=errors
    )
