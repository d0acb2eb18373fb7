"""The fuzz targets in CI: every saved finding replays cleanly, and each target survives a
short atheris run (FUZZ_SECONDS each, default 5; `make fuzz` runs them for longer)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = Path(__file__).parent / "regressions"
SECONDS = int(os.environ.get("FUZZ_SECONDS", "5"))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_saved_findings_and_seeds_are_refused_clearly(name: str) -> None:
    """Inputs that once crashed a target (and its seeds) now pass or raise a CitywatchError."""
    target = TARGETS[name]
    saved = sorted((REGRESSIONS / name).glob("*")) if (REGRESSIONS / name).is_dir() else []
    for path in saved:
        target.target(path.read_bytes())
    seeds = list(target.seeds())
    assert seeds, f"{name} has no seeds"
    for seed in seeds:
        target.target(seed)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_bounded_fuzz_run_finds_nothing(name: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    command = [
        sys.executable, "-m", "tests.fuzz.run", name,
        f"-max_total_time={SECONDS}", "-timeout=10", "-rss_limit_mb=2560",
        f"-artifact_prefix={tmp_path}/",
    ]  # fmt: skip
    limit_s = SECONDS + 120
    run = subprocess.run(
        command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit_s
    )
    output = run.stdout + run.stderr
    findings = sorted(p.name for p in tmp_path.glob("*-*"))
    assert run.returncode == 0, f"{name}: fuzzing found {findings}:\n{output[-4000:]}"
    done = re.search(r"Done (\d+) runs", output)
    assert done is not None and int(done.group(1)) > 0, f"{name} ran no inputs:\n{output[-2000:]}"
