"""Decoding and resizing images, with OpenCV's failures turned into citywatch errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from citywatch.domain.errors import CorruptMedia, NotFound
from citywatch.domain.frames import Image

MAX_IMAGE_PIXELS = 80_000_000


def read_image(path: Path) -> Image:
    """A BGR image from a file; a clear error for a missing, unreadable or non-image file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorruptMedia(f"{path}: is a folder, not an image") from None
    except OSError as exc:
        raise CorruptMedia(f"{path}: cannot read: {exc.strerror}") from None
    return decode_image(data, str(path))


def decode_image(data: bytes, name: str) -> Image:
    if not data:
        raise CorruptMedia(f"{name}: empty file, not an image")
    buf = np.frombuffer(data, np.uint8)
    try:
        image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise CorruptMedia(f"{name}: not a readable image ({exc.msg.strip()})") from None
    if image is None or image.size == 0:
        raise CorruptMedia(f"{name}: not a readable image (corrupt or unsupported format)")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
        raise CorruptMedia(f"{name}: image too large ({image.shape[1]}x{image.shape[0]})")
    return np.ascontiguousarray(image, dtype=np.uint8)


def encode_jpeg(image: Image, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise CorruptMedia("cannot encode crop as JPEG")
    return bytes(buf.tobytes())


def fit_within(image: Image, max_side: int) -> tuple[Image, float]:
    """Shrink so the longer side is at most `max_side`; returns the image and the factor
    that maps its coordinates back to the original."""
    h, w = image.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    resized = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return np.asarray(resized, np.uint8), 1.0 / scale
