"""The fuzz targets: the image decoder, the video decoder, the upload form parser, the
configuration loader and the webhook verifier. Each takes the fuzzer's bytes and lets only a
`CitywatchError` (a clear refusal) escape."""

from __future__ import annotations

import io
import tempfile
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from citywatch.alerts.delivery.webhook import sign, verify
from citywatch.config.delivery import webhook_key
from citywatch.config.ingest import SourceSettings
from citywatch.config.load import load
from citywatch.domain.errors import CitywatchError
from citywatch.ingest.file import FileSource
from citywatch.media.images import decode_image
from citywatch.web.api.uploads import FormLimits, parse_form
from tests.fuzz.harness import FuzzTarget

_TMP = Path(tempfile.mkdtemp(prefix="citywatch-fuzz-"))


# --- images ----------------------------------------------------------------------------


def fuzz_image(data: bytes) -> None:
    try:
        image = decode_image(data, "fuzz")
    except CitywatchError:
        return
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise AssertionError(f"decode_image returned {image.shape} {image.dtype}")


def image_seeds() -> Iterable[bytes]:
    rng = np.random.default_rng(7)
    picture = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".webp"):
        ok, buf = cv2.imencode(ext, picture)
        if ok:
            yield bytes(buf.tobytes())
    yield _png_header_only(20_000, 20_000)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` pixels in a few hundred bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\0" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --- video -----------------------------------------------------------------------------


def fuzz_video(data: bytes) -> None:
    path = _TMP / "clip.mp4"
    path.write_bytes(data)
    source = FileSource("fuzz", path, SourceSettings(detect_fps=30))
    try:
        for count, frame in enumerate(source.frames()):
            if frame.image.ndim != 3:
                raise AssertionError(f"frame of shape {frame.image.shape}")
            if count > 50:
                break
    except CitywatchError:
        return
    finally:
        source.close()


def video_seeds() -> Iterable[bytes]:
    for fmt, codec in (("mp4", "h264"), ("matroska", "mpeg4")):
        buf = io.BytesIO()
        with av.open(buf, "w", format=fmt) as container:
            stream = container.add_stream(codec, rate=10)
            stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
            stream.codec_context.time_base = Fraction(1, 10)
            for i in range(4):
                picture = np.full((32, 32, 3), 40 * i, np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="bgr24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        yield buf.getvalue()


# --- upload forms ----------------------------------------------------------------------

_BOUNDARY = "citywatchFuzzBoundary"
_FORM_LIMITS = FormLimits(max_parts=16, max_field_bytes=256)


def fuzz_form(data: bytes) -> None:
    """A multipart body from the fuzzer (the first line, when it starts with `;`, adds to the
    Content-Type): parsed within the limits or refused, never past them."""
    content_type = f"multipart/form-data; boundary={_BOUNDARY}"
    if data.startswith(b";"):
        extra, _, data = data.partition(b"\n")
        content_type += extra.decode("latin-1")
    try:
        form = parse_form(content_type, data, _FORM_LIMITS)
    except CitywatchError:
        return
    parts = sum(map(len, form.fields.values())) + len(form.files.multi_items())
    if parts > _FORM_LIMITS.max_parts:
        raise AssertionError(f"{parts} parts passed a cap of {_FORM_LIMITS.max_parts}")
    # characters, not bytes: an undecodable byte comes back as one U+FFFD (three bytes in UTF-8)
    if any(len(v) > _FORM_LIMITS.max_field_bytes for vs in form.fields.values() for v in vs):
        raise AssertionError("a text field passed its byte limit")


def form_seeds() -> Iterable[bytes]:
    def part(name: str, value: bytes, filename: str | None = None) -> bytes:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{_BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
        if filename:
            head += "Content-Type: image/jpeg\r\n"
        return head.encode() + b"\r\n" + value + b"\r\n"

    yield (
        part("email", b"someone@example.org")
        + part("photo", b"\xff\xd8\xff", "me.jpg")
        + (f"--{_BOUNDARY}--\r\n".encode())
    )
    yield b"".join(part(f"f{i}", b"x") for i in range(20)) + f"--{_BOUNDARY}--\r\n".encode()
    yield f"--{_BOUNDARY}--\r\n".encode()


# --- configuration ---------------------------------------------------------------------


def fuzz_config(data: bytes) -> None:
    path = _TMP / "citywatch.yaml"
    path.write_bytes(data)
    try:
        load(path)
    except CitywatchError:
        return


def config_seeds() -> Iterable[bytes]:
    yield b"data_dir: data\n"
    yield (
        b"data_dir: data\ncameras:\n  - id: gate-1\n    url: clip.mp4\n    mode: detect\n"
        b"    location: [51.5, -0.1]\nmatching: {threshold: 0.5}\napi: {enabled: true, port: 8080}\n"
    )
    yield b"retention: {footage_days: 5}\nalerts: {cooldown_s: 60}\n"
    yield b"&a [*a, *a]\n"


# --- webhook verifier ------------------------------------------------------------------

_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
_NOW = datetime(2026, 12, 7, tzinfo=UTC)


def fuzz_webhook(data: bytes) -> None:
    """Headers and body from the fuzzer: the verifier answers True only for what it signed."""
    text = data.decode("utf-8", errors="replace")
    fields = [*text.split("\n", 3), "", "", "", ""][:4]
    msg_id, stamp, signature, body = fields
    headers = {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": signature}
    try:
        accepted = verify(_SECRET, headers, body, _NOW)
    except CitywatchError:
        return
    if accepted:
        expected = sign(webhook_key(_SECRET), msg_id, int(stamp), body)
        if expected not in signature.split():
            raise AssertionError("verify accepted a signature it did not make")


def webhook_seeds() -> Iterable[bytes]:
    stamp = int(_NOW.timestamp())
    body = '{"type":"alert","id":1}'
    good = sign(webhook_key(_SECRET), "msg_1", stamp, body)
    yield f"msg_1\n{stamp}\n{good}\n{body}".encode()
    yield f"msg_1\n{stamp}\nv1,AAAA {good}\n{body}".encode()
    yield b"\n\n\n"


TARGETS: dict[str, FuzzTarget] = {
    t.name: t
    for t in (
        FuzzTarget("image", fuzz_image, image_seeds, "citywatch.media.images.decode_image (every upload)"),
        FuzzTarget("video", fuzz_video, video_seeds, "citywatch.ingest.file.FileSource (PyAV decode)"),
        FuzzTarget("form", fuzz_form, form_seeds, "citywatch.web.api.uploads.parse_form (python-multipart)"),
        FuzzTarget("config", fuzz_config, config_seeds, "citywatch.config.load.load (YAML + pydantic)"),
        FuzzTarget("webhook", fuzz_webhook, webhook_seeds, "citywatch.alerts.delivery.webhook.verify"),
    )
}
