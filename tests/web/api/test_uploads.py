"""The upload forms' parsing (python-multipart, parts and fields bounded) and the rate limit,
without a server."""

from __future__ import annotations

import os

import httpx
import pytest
from fastapi import HTTPException

from citywatch.domain.errors import InvalidInput, TooLarge
from citywatch.web.api.uploads import FormLimits, RateLimit, parse_form


def _multipart(**files: bytes) -> tuple[str, bytes]:
    request = httpx.Request(
        "POST",
        "http://x/",
        data={"requester": "Ann Lee", "cameras": ["gate-1", "hall-2"]},
        files={name: (f"{name}.jpg", data, "image/jpeg") for name, data in files.items()},
    )
    return request.headers["content-type"], request.read()


def test_fields_repeat_and_a_binary_file_comes_back_byte_for_byte() -> None:
    photo = os.urandom(4096) + b"\r\n--boundary-lookalike\r\n" + bytes(range(256))
    content_type, body = _multipart(photo=photo)
    form = parse_form(content_type, body)
    assert form.fields == {"requester": ["Ann Lee"], "cameras": ["gate-1", "hall-2"]}
    assert form.files["photo"].filename == "photo.jpg" and form.files["photo"].data == photo


def test_several_files_under_one_name_come_back_in_order() -> None:
    request = httpx.Request(
        "POST", "http://x/", files=[("images", ("a.jpg", b"first")), ("images", ("b.jpg", b"second"))]
    )
    form = parse_form(request.headers["content-type"], request.read())
    assert [(u.filename, u.data) for u in form.files.getlist("images")] == [
        ("a.jpg", b"first"),
        ("b.jpg", b"second"),
    ]
    assert form.one_file("photo") is None
    with pytest.raises(InvalidInput, match="one file"):
        form.one_file("images")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"no boundary"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n"),
        ("multipart/form-data; boundary=x", b"--y\r\n\r\nstray\r\n"),
    ],
    ids=["no boundary", "part without a name", "wrong boundary"],
)
def test_a_broken_form_is_invalid_input(content_type: str, body: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_form(content_type, body)


def test_the_rate_limit_counts_per_address_over_a_sliding_window() -> None:
    limit = RateLimit(per_window=2, window_s=60)
    limit.check("a", now=0)
    limit.check("a", now=10)
    limit.check("b", now=10)  # another address has its own count
    with pytest.raises(HTTPException) as refused:
        limit.check("a", now=30)
    assert refused.value.status_code == 429
    assert refused.value.headers == {"Retry-After": "31"}
    limit.check("a", now=61)  # the first call has left the window


def _parts(count: int) -> tuple[str, bytes]:
    """`count` parts: `count - 1` camera fields, then a photo."""
    body = b"".join(
        f'--b\r\nContent-Disposition: form-data; name="cameras"\r\n\r\ncam-{i}\r\n'.encode()
        for i in range(count - 1)
    )
    body += b'--b\r\nContent-Disposition: form-data; name="photo"; filename="p.png"\r\n\r\npng\r\n--b--\r\n'
    return "multipart/form-data; boundary=b", body


@pytest.mark.parametrize(("parts", "refused"), [(16, False), (17, True), (10_000, True)])
def test_a_form_is_refused_past_its_part_cap(parts: int, refused: bool) -> None:
    content_type, body = _parts(parts)
    limits = FormLimits(max_parts=16)
    if refused:
        with pytest.raises(TooLarge, match=r"more than 16 parts \(api.form_parts_max\)"):
            parse_form(content_type, body, limits)
    else:
        form = parse_form(content_type, body, limits)
        assert len(form.fields["cameras"]) == 15 and form.files["photo"].data == b"png"


def test_a_text_field_is_bounded_but_a_file_only_by_the_body() -> None:
    request = httpx.Request(
        "POST", "http://x/", data={"requester": "x" * 2048}, files={"photo": ("p.png", b"y" * 10_000)}
    )
    content_type, body = request.headers["content-type"], request.read()
    assert (
        parse_form(content_type, body, FormLimits(max_field_bytes=2048)).files["photo"].data == b"y" * 10_000
    )
    with pytest.raises(TooLarge, match=r"field 'requester' is larger than 1 KB"):
        parse_form(content_type, body, FormLimits(max_field_bytes=1024))
