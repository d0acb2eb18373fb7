"""The import contracts of `make lint` ([tool.importlinter] in pyproject.toml): they hold on
the source, and they are not a formality: one import against them, made in a copy of the
source, breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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


def test_an_import_against_a_contract_breaks_it(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "citywatch", source / "citywatch", ignore=shutil.ignore_patterns("__pycache__")
    )
    clock = source / "citywatch" / "domain" / "clock.py"
    clock.write_text(
        clock.read_text() + "\nfrom citywatch.store import db  # the vocabulary leaning on SQL\n"
    )
    config = tmp_path / "pyproject.toml"
    shutil.copy(ROOT / "pyproject.toml", config)
    run = _lint_imports(source, config)
    assert run.returncode != 0, run.stdout
    assert "domain imports nothing of citywatch but itself BROKEN" in run.stdout
    assert "citywatch.domain.clock -> citywatch.store.db" in run.stdout
