"""Read the configuration file, validate it, and report errors with the file's line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from citywatch.config.settings import Settings
from citywatch.domain.errors import InvalidInput

DEFAULT_CONFIG = Path("citywatch.yaml")


def load(path: Path | None = None) -> Settings:
    """Settings from `path` (YAML), overridden by `CITYWATCH_*` variables.

    Without a file, defaults and the environment alone; relative folders are resolved
    against the file's folder (or the working directory).
    """
    if path is None:
        try:
            return Settings().resolved(Path.cwd())
        except ValidationError as exc:
            raise InvalidInput(_describe(exc, None, None)) from None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(
            f"{path}: configuration file not found (write one with `citywatch init`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read configuration: {exc}") from None
    try:
        data = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(f"{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}:1: the configuration must be a mapping of keys to values")
    odd = [key for key in data if not isinstance(key, str)]
    if odd:
        raise InvalidInput(f"{path}: top-level key {odd[0]!r} is not a name (such as data_dir)")
    try:
        return Settings(**data).resolved(path.parent.resolve())
    except ValidationError as exc:
        raise InvalidInput(_describe(exc, path, root)) from None


def _describe(exc: ValidationError, path: Path | None, root: yaml.Node | None) -> str:
    lines = []
    for err in exc.errors():
        loc = _loc_without_union_tags(err["loc"])
        key = _dotted(loc)
        line = _line_of(root, loc)
        if path is None:
            where = "settings"
        elif line is None:
            where = f"{path} (key from environment or default)"
        else:
            where = f"{path}:{line}"
        lines.append(f"{where}: {key or '(top level)'}: {err['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _loc_without_union_tags(loc: Sequence[int | str]) -> list[int | str]:
    # Discriminated unions add the tag ("yunet") to the path; the file has no such key.
    return [p for p in loc if p not in ("yunet", "hog", "dlib_resnet")]


def _dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """1-based line of the deepest node of `loc` present in the YAML tree."""
    node: Any = root
    line: int | None = None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line = key_node.start_mark.line + 1
                    child = value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
