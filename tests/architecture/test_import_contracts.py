"""The import contracts of `make lint` ([tool.importlinter] in pyproject.toml): they hold on
the source, and they are not a formality: one import against them, made in a copy of the
source, breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports(source: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on the `citywatch` package found under `source`, in a process of its own."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(source)!r})\n"
        "from importlinter.cli import lint_imports\n"
        f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False, cwd=source
    )


def test_the_contracts_hold_on_the_source() -> None:
    run = _lint_imports(ROOT / "src", ROOT / "pyproject.toml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


VIOLATIONS = [
    (
        "domain/clock.py",
        "from citywatch.store import db  # the vocabulary leaning on SQL",
        "domain imports nothing of citywatch but itself BROKEN",
        "citywatch.domain.clock -> citywatch.store.db",
    ),
    (
        "store/vectors.py",
        "from citywatch.alerts import raising  # a rule called from the SQL layer",
        "store imports no feature package BROKEN",
        "citywatch.store.vectors -> citywatch.alerts.raising",
    ),
    (
        "cli/output.py",
        "from citywatch.store import sighting_queries  # a front end querying tables",
        "front ends import no store module BROKEN",
        "citywatch.cli.output -> citywatch.store.sighting_queries",
    ),
    (
        "web/console/render.py",
        "from citywatch.sightings import store  # a page reading sightings past their use case",
        "front ends import no store module BROKEN",
        "citywatch.web.console.render -> citywatch.sightings.store",
    ),
    (
        "watchlists/records.py",
        "from citywatch.changes import service  # a feature leaning on what sits above it",
        "no import cycle between packages or modules BROKEN",
        "- .watchlists -> .changes",
    ),
    (
        "audit/witness.py",
        "from citywatch.runtime import build  # a use case reaching for the composition root",
        "use cases take their collaborators, not the runtime BROKEN",
        "citywatch.audit.witness -> citywatch.runtime.build",
    ),
]


@pytest.mark.parametrize(("module", "line", "broken", "path"), VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_an_import_against_a_contract_breaks_it(
    tmp_path: Path, module: str, line: str, broken: str, path: str
) -> None:
    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "citywatch", source / "citywatch", ignore=shutil.ignore_patterns("__pycache__")
    )
    target = source / "citywatch" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    config = tmp_path / "pyproject.toml"
    shutil.copy(ROOT / "pyproject.toml", config)
    run = _lint_imports(source, config)
    assert run.returncode != 0, run.stdout
    assert broken in run.stdout
    assert path in run.stdout
