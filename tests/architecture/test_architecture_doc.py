"""docs/architecture.md is the map of the packages: every package it names exists, and every
package of citywatch is named in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "citywatch"
DOC = ROOT / "docs" / "architecture.md"

ROW = re.compile(r"^\| `([a-z_/]+)/` \|", re.M)


def named(text: str) -> set[str]:
    """The folders the table of owners names, relative to src/citywatch."""
    return set(ROW.findall(text))


def packages(source: Path) -> set[str]:
    return {
        init.parent.relative_to(source).as_posix()
        for init in source.rglob("__init__.py")
        if init.parent != source
    }


def test_every_package_is_on_the_map_and_the_map_names_no_other() -> None:
    on_the_map = named(DOC.read_text(encoding="utf-8"))
    assert packages(SOURCE) - on_the_map == set(), "packages missing from docs/architecture.md"
    assert {name for name in on_the_map if not (SOURCE / name).is_dir()} == set(), "named but absent"


def test_the_check_sees_a_package_left_off_the_map(tmp_path: Path) -> None:
    source = tmp_path / "citywatch"
    for name in ("domain", "alerts", "alerts/delivery", "newfeature"):
        (source / name).mkdir(parents=True)
        (source / name / "__init__.py").write_text("")
    text = "| `domain/` | words |\n| `alerts/` | alerts |\n| `alerts/delivery/` | delivery |\n"
    assert packages(source) - named(text) == {"newfeature"}
