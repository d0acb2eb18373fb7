"""Schemathesis over the OpenAPI schema, in process: requests generated from the schema of
every operation, signed in as an admin and as a supervisor (between them they hold every
permission but case search and the auditor's), must never get a server error (a 503 the
operation declares, naming what is unavailable, is an answer), nor a status the schema does
not declare.

Bounded: a few examples per operation, no deadline (the first call of a route may open the
database or load the watchlist index). Left out: the live alert stream, whose response never
ends (the SSE stream has its own tests in test_alert_stream.py).

Driven through Hypothesis directly (one test per operation, each a pytest parameter) rather
than schemathesis' lazy pytest fixture, which fails on pytest 9 (it sets the removed
`Function._nodeid`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.web.api.harness import Api, api_settings, open_api

EXAMPLES = 5
LEFT_OUT = {"/api/alerts/stream"}
SIGNED_IN_AS = ("ada", "sam")
"""An admin and a supervisor: the roles whose routes change the most."""


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    # rate limits high enough that the generated sign-ins and public requests are not all 429s
    yield from open_api(api_settings(tmp, public_requests_per_hour=10_000, logins_per_15min=10_000))


@pytest.fixture(scope="module")
def operations(fuzzed: Api) -> dict[str, schemathesis.schemas.APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.client.app)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path not in LEFT_OUT:
            found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


@schemathesis.check
def no_server_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """A 5xx is a server error, but for a 503 the operation declares, saying what is
    unavailable (e.g. a camera not running here has no frame to show): the API's answer."""
    declared = case.operation.definition.raw.get("responses", {})
    if response.status_code == 503 and "503" in declared and response.json().get("code") == "unavailable":
        return
    not_a_server_error(ctx, response, case)


def test_every_operation_is_fuzzed(operations: dict[str, schemathesis.schemas.APIOperation]) -> None:
    assert len(operations) >= 40
    assert "GET /metrics" in operations and "POST /api/alerts/{alert_id}/dismiss" in operations


@pytest.mark.parametrize("user", SIGNED_IN_AS)
def test_no_server_error(
    operations: dict[str, schemathesis.schemas.APIOperation], fuzzed: Api, user: str
) -> None:
    headers = {"Authorization": f"Bearer {fuzzed.tokens[user]}"}
    failed: dict[str, str] = {}
    for name, operation in sorted(operations.items()):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same cases every run: CI fails on a bug, not on luck
        )
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[no_server_error, status_code_conformance])

        try:
            call()
        except Exception as exc:  # every operation's failure, not only the first
            failed[name] = f"{type(exc).__name__}: {str(exc)[:2000]}"
    assert failed == {}
