"""The pixel budget (`media.images.check_pixels`): an image's size read from its header alone,
refused past the budget before any decoding; and the upload settings' cross-check."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from citywatch.bench.stall import huge_png
from citywatch.config.api import ApiSettings
from citywatch.domain.errors import CorruptMedia, TooLarge
from citywatch.media.images import check_pixels, decode_image


def encoded(suffix: str, width: int, height: int) -> bytes:
    ok, buf = cv2.imencode(suffix, np.zeros((height, width, 3), np.uint8))
    assert ok
    return bytes(buf.tobytes())


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".bmp"])
def test_the_size_comes_from_the_header_of_each_format(suffix: str) -> None:
    assert check_pixels(encoded(suffix, 640, 480), "a", 640 * 480) == (640, 480)
    with pytest.raises(
        TooLarge, match=r"a: the image declares 640x480 pixels \(0 MP\), over the pixel budget"
    ):
        check_pixels(encoded(suffix, 640, 480), "a", 640 * 480 - 1)


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (huge_png(20_000, 20_000), TooLarge, "declares more than 179 MP, over the pixel budget of 40 MP"),
        (huge_png(8000, 8000), TooLarge, "declares 8000x8000 pixels (64 MP), over the pixel budget of 40 MP"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, CorruptMedia, "not a readable image"),
        (b"GIF89a but not really", CorruptMedia, "not a readable image"),
        (b"plain text", CorruptMedia, "not a readable image"),
    ],
    ids=["400 MP", "64 MP", "broken PNG header", "broken GIF", "not an image"],
)
def test_an_upload_is_refused_before_decoding(data: bytes, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        decode_image(data, "up.png", max_pixels=40_000_000)


def test_an_image_within_the_budget_decodes() -> None:
    assert decode_image(encoded(".png", 64, 48), "ok.png", max_pixels=64 * 48).shape == (48, 64, 3)


def test_the_forms_parts_must_hold_the_largest_enrolment() -> None:
    ApiSettings(enrol_images_max=100, form_parts_max=108)
    with pytest.raises(
        ValueError, match=r"form_parts_max \(100\) must be at least enrol_images_max \(100\) \+ 8"
    ):
        ApiSettings(enrol_images_max=100, form_parts_max=100)
