"""Real models on the shared data; built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from citywatch.config.vision import DlibResNetSettings, QualitySettings, YuNetSettings
from citywatch.domain.ports import Detector, Embedder
from citywatch.vision.factory import build_detector, build_embedder


@pytest.fixture(scope="session")
def detector(shared_data: Path) -> Detector:
    return build_detector(YuNetSettings(), shared_data / "models")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return build_embedder(DlibResNetSettings())


@pytest.fixture(scope="session")
def quality() -> QualitySettings:
    return QualitySettings()
