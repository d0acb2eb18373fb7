"""Decoding and resizing images, with OpenCV's failures turned into citywatch errors.

Every decode is preceded by a look at the image's header (Pillow reads the header only, no
pixels): an image whose declared size is over the pixel budget is refused before OpenCV
allocates anything for it, so a small file declaring 20000x20000 pixels costs a header read,
not gigabytes and seconds. A file whose header Pillow cannot read is refused too (fail closed)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from citywatch.domain.errors import CorruptMedia, NotFound, TooLarge
from citywatch.domain.frames import Image

MAX_IMAGE_PIXELS = 80_000_000
"""The pixel budget of an image read from a file the operator gave (uploads have their own,
`api.upload_max_pixels`)."""


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


def check_pixels(data: bytes, name: str, max_pixels: int) -> tuple[int, int]:
    """The image's (width, height) as its header declares them, read without decoding a pixel;
    TooLarge (413) naming the pixel budget when they make more than `max_pixels`, CorruptMedia
    when no header Pillow knows (JPEG, PNG, WebP, BMP, ...) is there."""
    try:
        with warnings.catch_warnings():
            # the budget is ours, not Pillow's global one (its warning, past 89 MP, is noise here)
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as header:
                width, height = (int(side) for side in header.size)
    except PILImage.DecompressionBombError:
        # Pillow refuses to open past twice its limit (about 179 MP), over any budget allowed here
        limit = 2 * int(PILImage.MAX_IMAGE_PIXELS or 0)
        raise TooLarge(_over_budget(name, f"more than {limit / 1e6:.0f} MP", max_pixels)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptMedia(f"{name}: not a readable image ({exc})") from None
    if width * height > max_pixels:
        raise TooLarge(
            _over_budget(name, f"{width}x{height} pixels ({width * height / 1e6:.0f} MP)", max_pixels)
        )
    return width, height


def _over_budget(name: str, declared: str, max_pixels: int) -> str:
    return (
        f"{name}: the image declares {declared}, over the pixel budget of {max_pixels / 1e6:g} MP; "
        "it was refused before decoding"
    )


def decode_image(data: bytes, name: str, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image:
    """A BGR image from encoded bytes: its header checked against `max_pixels` first
    (TooLarge), then decoded (CorruptMedia if it does not decode)."""
    if not data:
        raise CorruptMedia(f"{name}: empty file, not an image")
    width, height = check_pixels(data, name, max_pixels)
    buf = np.frombuffer(data, np.uint8)
    try:
        image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise CorruptMedia(f"{name}: not a readable image ({exc.msg.strip()})") from None
    if image is None or image.size == 0:
        raise CorruptMedia(f"{name}: not a readable image (corrupt or unsupported format)")
    if image.shape[0] * image.shape[1] > max_pixels:  # the decoder disagreed with the header
        raise CorruptMedia(
            f"{name}: the image decodes larger ({image.shape[1]}x{image.shape[0]}) "
            f"than its header says ({width}x{height})"
        )
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


def pixelate(image: Image, *, cells: int) -> Image:
    """A copy of the whole of `image` as a mosaic `cells` wide on its longer side: the scene's
    shapes and movement stay, no face in it can be told (nothing to undo)."""
    height, width = image.shape[:2]
    scale = cells / max(height, width)
    small = cv2.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST), np.uint8)


def blur_boxes(image: Image, boxes: np.ndarray, *, cells: int = 6) -> Image:
    """A copy of `image` with each box (x0, y0, x1, y1) pixelated past recognition: a
    `cells` x `cells` mosaic of the box grown by a fifth, so hair and jawline go with the face.
    `cells=1` fills the grown box with its mean colour, which nothing can undo."""
    out = image.copy()
    height, width = image.shape[:2]
    for bx0, by0, bx1, by1 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        x, y, w, h = bx0, by0, bx1 - bx0, by1 - by0
        pad_x, pad_y = 0.2 * w, 0.2 * h
        x0, y0 = max(0, int(x - pad_x)), max(0, int(y - pad_y))
        x1, y1 = min(width, int(x + w + pad_x)), min(height, int(y + h + pad_y))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        small = cv2.resize(out[y0:y1, x0:x1], (cells, cells), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return out


def outline_boxes(image: Image, boxes: np.ndarray, *, thickness: int = 2) -> Image:
    """A copy of `image` with each box (x0, y0, x1, y1) outlined: where faces were found."""
    out = np.ascontiguousarray(image).copy()
    for bx0, by0, bx1, by1 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        cv2.rectangle(out, (int(bx0), int(by0)), (int(bx1), int(by1)), (0, 200, 255), thickness)
    return out
