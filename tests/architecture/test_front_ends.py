"""Front ends call use cases, never stores. Imports are held by the contracts of `make lint`;
this holds the other way in: a front end reaching a store through the runtime
(`rt.sightings.…`, `runtime_of(request).alerts.…`) instead of the use case that scopes and
audits the look (`sightings.views`, `alerts.views`, `retention.footage.view_recordings`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src" / "citywatch"
FRONT_ENDS = ("web", "cli")
STORES = frozenset({"sightings", "alerts", "footage", "blobs"})
"""The runtime's stores of recorded data: what looking at them means (scope, audit) is a use case."""
RUNTIME_GETTERS = frozenset({"runtime_of", "runtime"})


def _is_runtime(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "rt"
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in RUNTIME_GETTERS


def store_calls(text: str) -> list[str]:
    """`rt.<store>.<what>` reached in `text`, as written."""
    found = []
    for node in ast.walk(ast.parse(text)):
        inner = node.value if isinstance(node, ast.Attribute) else None
        if isinstance(inner, ast.Attribute) and inner.attr in STORES and _is_runtime(inner.value):
            assert isinstance(node, ast.Attribute)
            found.append(f"{ast.unparse(inner)}.{node.attr} (line {node.lineno})")
    return found


def test_front_ends_reach_no_store_through_the_runtime() -> None:
    found = {
        path.relative_to(SOURCE).as_posix(): calls
        for front in FRONT_ENDS
        for path in sorted((SOURCE / front).rglob("*.py"))
        if (calls := store_calls(path.read_text(encoding="utf-8")))
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        "rows = rt.sightings.sightings_page(50)",
        "data = runtime_of(request).blobs.read(path)",
        "alerts = runtime(ctx).alerts.list_alerts()",
    ],
)
def test_the_scan_catches_a_store_reached_through_the_runtime(source: str) -> None:
    assert len(store_calls(source)) == 1


def test_the_scan_lets_use_cases_and_settings_through() -> None:
    ok = "views = sighting_views(rt)\ncool = rt.settings.alerts.cooldown_s\nn = receipt.sightings\n"
    assert store_calls(ok) == []
