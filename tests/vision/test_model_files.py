"""`citywatch models fetch`: download, SHA-256 check, nothing kept when wrong."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from citywatch.domain.errors import InvalidInput, Unavailable
from citywatch.vision.model_files import YUNET, install, is_installed

PAYLOAD = b"pretend onnx model" * 100


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "model.onnx").write_bytes(PAYLOAD)

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__(*a, directory=str(root), **k)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


MODEL = replace(YUNET, sha256=hashlib.sha256(PAYLOAD).hexdigest())


def test_download_with_the_right_hash_is_installed(tmp_path: Path, served: str) -> None:
    path = install(MODEL, tmp_path / "models", url=f"{served}/model.onnx")
    assert path.read_bytes() == PAYLOAD
    assert is_installed(MODEL, tmp_path / "models")
    assert [p.name for p in (tmp_path / "models").iterdir()] == [MODEL.name]


def test_wrong_hash_is_refused_and_nothing_kept(tmp_path: Path, served: str) -> None:
    with pytest.raises(InvalidInput, match="SHA-256 mismatch"):
        install(YUNET, tmp_path / "models", url=f"{served}/model.onnx")
    assert list((tmp_path / "models").iterdir()) == []


def test_unreachable_url_is_unavailable(tmp_path: Path, served: str) -> None:
    with pytest.raises(Unavailable, match="cannot download"):
        install(MODEL, tmp_path / "models", url=f"{served}/missing.onnx", timeout_s=5)


def test_local_copy_of_the_real_model(tmp_path: Path, shared_data: Path) -> None:
    path = install(YUNET, tmp_path / "models", from_file=shared_data / "models" / YUNET.name)
    assert is_installed(YUNET, path.parent)
