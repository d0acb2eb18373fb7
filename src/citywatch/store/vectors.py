"""Templates as stored: float32 little-endian bytes."""

from __future__ import annotations

import numpy as np

from citywatch.domain.errors import InvalidInput
from citywatch.domain.matching import Template

_STORED = np.dtype("<f4")


def encode(vector: Template) -> bytes:
    """Validated bytes of a template (1-D, non-empty, finite)."""
    array = np.asarray(vector)
    if array.ndim != 1 or array.size == 0:
        raise InvalidInput(f"a template must be a non-empty 1-D vector, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise InvalidInput(f"a template must hold floats, got {array.dtype}")
    stored = array.astype(_STORED)
    if not np.all(np.isfinite(stored)):
        raise InvalidInput("a template holds NaN or infinite values")
    return stored.tobytes()


def decode(data: bytes, dim: int | None = None) -> Template:
    """The template stored in `data` (a fresh, writable float32 array)."""
    if len(data) % _STORED.itemsize or (dim is not None and len(data) != dim * _STORED.itemsize):
        raise InvalidInput(f"stored template has {len(data)} bytes, expected {dim} float32 values")
    return np.frombuffer(data, dtype=_STORED).astype(np.float32, copy=True)
