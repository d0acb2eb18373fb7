"""FolderSource: still images as frames, bad files skipped with a warning."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest

from citywatch.domain.errors import CorruptMedia, InvalidInput, SourceUnavailable
from citywatch.domain.ports import SourceState
from citywatch.ingest.folder import FolderSource

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def examples(shared_data: Path) -> Path:
    return shared_data / "face_recognition" / "examples"


@pytest.mark.data
def test_good_images_become_frames_and_a_corrupt_one_a_warning(examples: Path, tmp_path: Path) -> None:
    shutil.copy(examples / "obama_small.jpg", tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    grey = cv2.imread(str(examples / "obama-240p.jpg"), cv2.IMREAD_GRAYSCALE)  # grey in, BGR out
    small = cv2.imread(str(examples / "obama_small.jpg"))
    assert grey is not None and small is not None
    cv2.imwrite(str(tmp_path / "c.PNG"), grey)
    (tmp_path / "notes.txt").write_text("not an image, ignored")
    (tmp_path / "nested").mkdir()
    shutil.copy(examples / "obama_small.jpg", tmp_path / "nested" / "d.jpg")  # not recursive
    source = FolderSource("cam-1", tmp_path, started_at=T0)

    frames = list(source.frames())

    assert [f.index for f in frames] == [0, 1]
    assert [f.pts_s for f in frames] == [0.0, 2.0]  # position in the listing a.jpg, b.jpg, c.PNG
    assert frames[0].image.shape == small.shape
    assert frames[1].image.shape == (*grey.shape, 3)
    assert [f.captured_at for f in frames] == [T0, T0 + timedelta(seconds=2)]
    [warning] = source.health.warnings
    assert "b.jpg" in warning
    assert "not a readable image" in warning
    health = source.health
    assert (health.state, health.frames_decoded, health.frames_sampled) == (SourceState.ENDED, 2, 2)


@pytest.mark.parametrize(
    ("files", "error", "message"),
    [
        ({}, InvalidInput, "no images in the folder"),
        ({"readme.txt": b"hello", "clip.mp4": b"\x00"}, InvalidInput, "no images in the folder"),
        ({"a.jpg": b"", "b.png": b"garbage"}, CorruptMedia, "none of its 2 images could be read"),
    ],
    ids=["empty", "no-images", "all-corrupt"],
)
def test_folders_without_a_readable_image_raise(
    tmp_path: Path, files: dict[str, bytes], error: type[Exception], message: str
) -> None:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    source = FolderSource("cam-1", tmp_path)

    with pytest.raises(error, match=message):
        list(source.frames())

    assert source.health.state is SourceState.FAILED


def test_missing_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="cannot list the folder"):
        list(FolderSource("cam-1", tmp_path / "gone").frames())


@pytest.mark.data
def test_close_stops_before_the_next_image(examples: Path, tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copy(examples / "obama_small.jpg", tmp_path / name)
    source = FolderSource("cam-1", tmp_path)
    frames = []

    for frame in source.frames():
        frames.append(frame)
        source.close()

    assert len(frames) == 1
    assert source.health.state is SourceState.ENDED
