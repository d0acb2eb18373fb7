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
def test_saved_findings_and_seeds_are_refused_clearly(name: str, tmp_path: Path) -> None:
    """Inputs that once crashed a target, and its seeds, now pass or raise a CitywatchError.
    In a process of its own, as the fuzzer runs: a finding that ate memory here would
    otherwise count against the fuzzer's memory limit (Linux keeps a process's peak
    resident size across fork and exec)."""
    target = TARGETS[name]
    saved = sorted((REGRESSIONS / name).glob("*")) if (REGRESSIONS / name).is_dir() else []
    seeds = list(target.seeds())
    assert seeds, f"{name} has no seeds"
    for i, seed in enumerate(seeds):
        (tmp_path / f"seed-{i}").write_bytes(seed)
    inputs = [*map(str, saved), *(str(tmp_path / f"seed-{i}") for i in range(len(seeds)))]
    run = _fuzz([name, "--replay", *inputs], timeout_s=120)
    assert run.returncode == 0, f"{name}: a saved input fails:\n{(run.stdout + run.stderr)[-4000:]}"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_bounded_fuzz_run_finds_nothing(name: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    flags = [
        f"-max_total_time={SECONDS}",
        "-timeout=10",
        "-rss_limit_mb=2560",
        f"-artifact_prefix={tmp_path}/",
    ]
    run = _fuzz([name, *flags], timeout_s=SECONDS + 120)
    output = run.stdout + run.stderr
    findings = sorted(p.name for p in tmp_path.glob("*-*"))
    assert run.returncode == 0, f"{name}: fuzzing found {findings}:\n{output[-4000:]}"
    done = re.search(r"Done (\d+) runs", output)
    assert done is not None and int(done.group(1)) > 0, f"{name} ran no inputs:\n{output[-2000:]}"


def _fuzz(args: list[str], *, timeout_s: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    command = [sys.executable, "-m", "tests.fuzz.run", *args]
    return subprocess.run(
        command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s
    )
