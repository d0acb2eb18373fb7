"""Builds the configured detector and embedder; the YuNet → HOG fallback is decided here."""

from __future__ import annotations

import logging
from pathlib import Path

from citywatch.config.vision import DetectorSettings, EmbedderSettings, HogSettings, YuNetSettings
from citywatch.domain.ports import Detector, Embedder

log = logging.getLogger(__name__)


def build_detector(settings: DetectorSettings, models_dir: Path) -> Detector:
    if isinstance(settings, YuNetSettings):
        model_path = models_dir / settings.model_file
        if model_path.is_file():
            from citywatch.vision.backends.yunet import YuNetDetector  # noqa: PLC0415

            return YuNetDetector(settings, model_path)
        log.warning(
            "YuNet model not found at %s; falling back to dlib HOG (slower, misses small faces). "
            "Run `citywatch models fetch` to download it.",
            model_path,
        )
        settings = HogSettings(max_side_px=settings.max_side_px)
    from citywatch.vision.backends.hog import HogDetector  # noqa: PLC0415

    return HogDetector(settings)


def build_embedder(settings: EmbedderSettings) -> Embedder:
    from citywatch.vision.backends.dlib_resnet import DlibResNetEmbedder  # noqa: PLC0415

    return DlibResNetEmbedder(settings)
