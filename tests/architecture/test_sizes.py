"""No module over 500 lines and no function over 60 (migrations and report writers aside)."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "citywatch"
MODULE_LINES = 500
FUNCTION_LINES = 60
REPORT_WRITERS = {"bench/report.py:_markdown", "bench/speed.py:speed_markdown"}
"""Functions that write a report line by line: long by nature, one line per line written."""


def sizes(source: Path) -> dict[str, int]:
    """Every module and function over its limit, with its length in lines."""
    found: dict[str, int] = {}
    for path in sorted(source.rglob("*.py")):
        name = path.relative_to(source).as_posix()
        if name.startswith("store/migrations/"):
            continue
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MODULE_LINES:
            found[name] = lines
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                key = f"{name}:{node.name}"
                if length > FUNCTION_LINES and key not in REPORT_WRITERS:
                    found[key] = length
    return found


def test_modules_and_functions_stay_within_their_limits() -> None:
    assert sizes(SOURCE) == {}, "split these along their seams (docs/architecture.md)"


def test_a_long_function_and_a_long_module_are_caught(tmp_path: Path) -> None:
    (tmp_path / "feature").mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    (tmp_path / "feature" / "long.py").write_text(f"def f() -> None:\n{body}\n")
    (tmp_path / "big.py").write_text("\n".join(f"X{i} = {i}" for i in range(600)) + "\n")
    found = sizes(tmp_path)
    assert found == {"feature/long.py:f": 71, "big.py": 600}
