"""What the governance and accountability routes share: the responses each route can give
(in the one error format of `citywatch.web.api.errors`) and pagination bounds."""

from __future__ import annotations

from typing import Any

from fastapi import status

from citywatch.web.api.errors import ErrorBody

PAGE_DEFAULT = 50
PAGE_MAX = 500


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route: each error code it may answer, with the one error body."""
    words = {
        status.HTTP_401_UNAUTHORIZED: "No valid API token.",
        status.HTTP_403_FORBIDDEN: "The caller's role may not do this, or a rule of the record refuses it.",
        status.HTTP_404_NOT_FOUND: "No such record.",
        status.HTTP_409_CONFLICT: "The record's state does not allow this now.",
        status.HTTP_413_CONTENT_TOO_LARGE: "The upload is larger than allowed.",
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "Not a multipart/form-data upload.",
        status.HTTP_422_UNPROCESSABLE_CONTENT: "Malformed or impossible input.",
        status.HTTP_429_TOO_MANY_REQUESTS: "Too many requests from this address; try again later.",
        status.HTTP_503_SERVICE_UNAVAILABLE: "A model, file or service is not available right now.",
    }
    return {code: {"model": ErrorBody, "description": words[code]} for code in codes}


SIGNED_IN = (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN, status.HTTP_422_UNPROCESSABLE_CONTENT)
"""What any signed-in route may answer besides its success."""
