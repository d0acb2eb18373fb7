"""Signed export packages: verify what was built; name the first change, whatever it is;
never leave a partial package behind."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from citywatch.domain.errors import CorruptMedia, Unavailable
from citywatch.requests.package import MANIFEST, Entry, build_package, verify_package

KEY = Ed25519PrivateKey.generate()
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def build(tmp_path: Path) -> Path:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42 fake clip bytes")
    entries = [Entry("clips/gate.mp4", source=clip), Entry("sightings.json", b'[{"id": 1}]')]
    built = build_package(
        tmp_path / "out/E-1.zip", entries, key=KEY, reference="LE-7", created_by="sam", created_at=NOW
    )
    assert built.files == 2 and built.path.stat().st_size == built.size
    return built.path


def rewrite(path: Path, change: dict[str, bytes | None]) -> None:
    """Rewrite the zip with some members replaced (bytes), dropped (None) or added."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    for name, data in change.items():
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_a_package_verifies_against_the_instance_key(tmp_path: Path) -> None:
    path = build(tmp_path)
    verdict = verify_package(path, KEY.public_key())
    assert (verdict.ok, verdict.files, verdict.reference) == (True, 2, "LE-7")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"sightings.json": b'[{"id": 2}]'}, "sightings.json was changed"),
        ({"clips/gate.mp4": None}, "clips/gate.mp4 is listed but missing"),
        ({"extra.txt": b"slipped in"}, "extra.txt is not in the manifest"),
        ({MANIFEST: b'{"files": []}'}, "signature does not verify"),
        ({"manifest.sig": None}, "manifest.sig is missing"),
    ],
)
def test_every_kind_of_change_is_named(tmp_path: Path, change: dict[str, bytes | None], problem: str) -> None:
    path = build(tmp_path)
    rewrite(path, change)
    verdict = verify_package(path, KEY.public_key())
    assert not verdict.ok and verdict.problem is not None and problem in verdict.problem


def test_bytes_changed_inside_the_zip_are_named_not_a_crash(tmp_path: Path) -> None:
    path = build(tmp_path)
    # edited in place, as a careless search-and-replace would: the member's CRC no longer holds
    path.write_bytes(path.read_bytes().replace(b'[{"id": 1}]', b'[{"id": 7}]'))
    verdict = verify_package(path, KEY.public_key())
    assert not verdict.ok and verdict.problem is not None
    assert "damaged" in verdict.problem or "changed" in verdict.problem


def test_another_key_does_not_verify(tmp_path: Path) -> None:
    path = build(tmp_path)
    assert not verify_package(path, Ed25519PrivateKey.generate().public_key()).ok


def test_not_a_zip_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.zip"
    bad.write_text("hello")
    with pytest.raises(CorruptMedia, match="not a readable export package"):
        verify_package(bad)


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("citywatch.requests.package.os.replace", full)
    with pytest.raises(Unavailable, match="No space left on device"):
        build(tmp_path)
    assert list((tmp_path / "out").iterdir()) == []
