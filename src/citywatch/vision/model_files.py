"""Model files that are downloaded, not packaged: fetched once and checked by SHA-256."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from citywatch.domain.errors import InvalidInput, Unavailable


@dataclass(frozen=True, slots=True)
class ModelFile:
    name: str
    url: str
    sha256: str
    licence: str


YUNET = ModelFile(
    name="face_detection_yunet_2023mar.onnx",
    url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
    "face_detection_yunet_2023mar.onnx",
    sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    licence="MIT (opencv_zoo)",
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_installed(model: ModelFile, models_dir: Path) -> bool:
    path = models_dir / model.name
    return path.is_file() and sha256_of(path) == model.sha256


def install(
    model: ModelFile,
    models_dir: Path,
    *,
    url: str | None = None,
    from_file: Path | None = None,
    timeout_s: float = 60.0,
) -> Path:
    """Download (or copy) the model into `models_dir`, keeping it only if its SHA-256 is right."""
    models_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=models_dir, prefix=f".{model.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as dst:
            if from_file is not None:
                with from_file.open("rb") as src:
                    shutil.copyfileobj(src, dst)
            else:
                _download(url or model.url, dst, timeout_s)
            dst.flush()
            os.fsync(dst.fileno())
        got = sha256_of(tmp)
        if got != model.sha256:
            raise InvalidInput(
                f"{model.name}: SHA-256 mismatch (expected {model.sha256}, got {got}); file discarded"
            )
        target = models_dir / model.name
        os.replace(tmp, target)
        return target
    except FileNotFoundError as exc:
        raise InvalidInput(f"{exc.filename}: no such file") from None
    except IsADirectoryError as exc:
        raise InvalidInput(f"{exc.filename}: is a folder, not a model file") from None
    except OSError as exc:
        raise Unavailable(f"cannot install {model.name}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _download(url: str, dst: BinaryIO, timeout_s: float) -> None:
    if not url.startswith(("https://", "http://")):
        raise InvalidInput(f"{url}: only http(s) downloads are supported")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (scheme checked)
            shutil.copyfileobj(response, dst)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unavailable(f"cannot download {url}: {reason}") from None
