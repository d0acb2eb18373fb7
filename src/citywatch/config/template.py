"""`citywatch init`: a commented default configuration, written from the models' own
descriptions and bounds so it cannot drift from what is validated."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings

EXAMPLE_CAMERA = CameraSettings(id="entrance-1", name="Main entrance", url="rtsp://camera.example/stream1")
EXAMPLE_SINKS: list[dict[str, Any]] = [
    {"name": "local-mqtt", "type": "mqtt", "host": "127.0.0.1", "port": 1883},
    {
        "name": "control-room",
        "type": "webhook",
        "url": "https://control-room.example/hooks/citywatch",
        "secret": "whsec_<base64 of 32 random bytes; or CITYWATCH_DELIVERY__SINKS via the environment>",
    },
]

HEADER = """\
# citywatch configuration. Every key may be overridden by an environment variable
# CITYWATCH_<KEY>, nested keys joined with "__" (e.g. CITYWATCH_MATCHING__THRESHOLD=0.5).
# Relative folders are relative to this file.
"""


def default_config_text() -> str:
    return HEADER + "\n" + _model_block(Settings(), indent=0)


def write_default(path: Path, *, overwrite: bool = False) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(path)
    path.write_text(default_config_text(), encoding="utf-8")


def _model_block(model: BaseModel, indent: int) -> str:
    pad = " " * indent
    out: list[str] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        out.extend(f"{pad}# {line}" for line in _comment(info))
        if isinstance(value, BaseModel):
            out.append(f"{pad}{name}:")
            out.append(_model_block(value, indent + 2))
        elif name in {"cameras", "sinks"}:
            out.append(f"{pad}{name}: []")
            out.append(f"{pad}# for example:")
            items = [_plain(EXAMPLE_CAMERA)] if name == "cameras" else EXAMPLE_SINKS
            example = yaml.safe_dump(items, sort_keys=False).rstrip()
            out.extend(f"{pad}# {line}" for line in example.splitlines())
        else:
            out.append(f"{pad}{name}: {_scalar(value)}")
        if indent == 0:
            out.append("")
    return "\n".join(out)


def _comment(info: FieldInfo) -> list[str]:
    text = info.description or ""
    bounds = [
        f"{sym} {getattr(m, attr)}"
        for m in info.metadata
        for cls, sym, attr in ((Gt, ">", "gt"), (Ge, ">=", "ge"), (Lt, "<", "lt"), (Le, "<=", "le"))
        if isinstance(m, cls)
    ]
    if bounds:
        text += f" ({', '.join(bounds)})"
    return [text] if text else []


def _plain(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _scalar(value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
