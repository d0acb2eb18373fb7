"""FileSource on real clips: sampling, raw streams, damaged and non-media files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citywatch.config.ingest import SourceSettings
from citywatch.domain.errors import CorruptMedia, SourceUnavailable
from citywatch.domain.ports import SourceState
from citywatch.ingest.file import FileSource, mp4_truncation

pytestmark = pytest.mark.data

RAW_H264 = Path("dlib/dlib/test/ffmpeg_data/MOT20-08-raw_shorter.h264")  # 127 frames, no timestamps
RAW_H265 = Path("dlib/dlib/test/ffmpeg_data/MOT17-13-SDP-raw.h265")  # 750 frames, no timestamps

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_hamilton_clip_sampled_at_10_fps(hamilton: Path) -> None:
    source = FileSource("cam-1", hamilton, SourceSettings(detect_fps=10), started_at=T0)

    frames = list(source.frames())

    assert len(frames) == 92  # 275 frames at 29.97 fps: every third
    assert {f.image.shape for f in frames} == {(360, 640, 3)}
    assert all(f.image.dtype == np.uint8 and f.image.flags.c_contiguous for f in frames)
    assert {f.camera_id for f in frames} == {"cam-1"}
    pts = np.array([f.pts_s for f in frames])
    assert pts[0] == pytest.approx(0.0)
    assert np.diff(pts) == pytest.approx(np.full(91, 0.1), abs=0.002)
    assert [f.index for f in frames] == list(range(0, 275, 3))
    assert all(f.captured_at == T0 + timedelta(seconds=f.pts_s) for f in frames)
    assert frames[0].image.std() > 10  # real pixels, not a blank buffer
    health = source.health
    assert (health.state, health.frames_decoded, health.frames_sampled) == (SourceState.ENDED, 275, 92)
    assert health.warnings == []
    assert health.last_error is None


def test_started_at_defaults_to_the_clock(hamilton: Path) -> None:
    source = FileSource("cam-1", hamilton, SourceSettings(detect_fps=1), clock=lambda: T0)

    first = next(source.frames())

    assert first.captured_at == T0


@pytest.mark.parametrize(
    ("clip", "decoded", "shape"),
    [(RAW_H264, 127, (366, 960, 3)), (RAW_H265, 750, (540, 960, 3))],
    ids=["h264", "h265"],
)
def test_raw_elementary_streams_without_timestamps_decode(
    shared_data: Path, clip: Path, decoded: int, shape: tuple[int, int, int]
) -> None:
    source = FileSource("cam-1", shared_data / clip, SourceSettings(detect_fps=5))

    frames = list(source.frames())

    assert source.health.frames_decoded == decoded
    assert len(frames) == source.health.frames_sampled == pytest.approx(decoded / 5, abs=1)  # 25 fps → 5
    assert {f.image.shape for f in frames} == {shape}
    assert np.diff([f.pts_s for f in frames]) == pytest.approx(np.full(len(frames) - 1, 0.2))
    assert source.health.state is SourceState.ENDED


TEXT = "# House style\n\nThis is a text file, not a video.\n" * 40


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.mp4", TEXT.encode(), "Invalid data"),
        ("notes.txt", TEXT.encode(), "text file"),  # FFmpeg would render .txt as ANSI-art "video"
        ("settings.toml", b'[tool]\nname = "citywatch"\n', "no video stream"),
        ("empty.mp4", b"", "Invalid data"),
        ("noise.h264", bytes(range(256)) * 64, "no frames|undecodable|Invalid data"),
    ],
)
def test_non_media_raises_corrupt_media(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    source = FileSource("cam-1", path, SourceSettings())

    with pytest.raises(CorruptMedia, match=rf"^{path}: not a readable video \((.*)\)") as caught:
        list(source.frames())

    assert caught.match(reason)
    assert source.health.state is SourceState.FAILED
    assert source.health.last_error == str(caught.value)


def test_missing_file_is_unavailable(tmp_path: Path) -> None:
    source = FileSource("cam-1", tmp_path / "gone.mp4", SourceSettings())

    with pytest.raises(SourceUnavailable, match=r"gone\.mp4: no such file"):
        list(source.frames())


def test_truncated_mp4_with_index_at_the_end_is_corrupt(hamilton: Path, tmp_path: Path) -> None:
    data = hamilton.read_bytes()
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: len(data) * 4 // 10])  # the moov index went with the tail

    with pytest.raises(
        CorruptMedia, match=r"cut\.mp4: not a readable video \(truncated at .* before its index"
    ):
        list(FileSource("cam-1", truncated, SourceSettings()).frames())


def test_truncated_mp4_yields_what_decodes_then_ends_with_a_warning(
    hamilton_faststart: Path, tmp_path: Path
) -> None:
    data = hamilton_faststart.read_bytes()
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: len(data) * 4 // 10])
    source = FileSource("cam-1", truncated, SourceSettings(detect_fps=10))

    frames = list(source.frames())

    assert 20 < len(frames) < 80
    assert frames[-1].pts_s < 8.0
    assert source.health.state is SourceState.ENDED
    [warning] = source.health.warnings
    assert warning.startswith(f"{truncated}: video ended early at frame {source.health.frames_decoded}: ")
    assert "of 9.18 s" in warning


def test_damaged_packets_are_skipped_and_counted(hamilton_faststart: Path, tmp_path: Path) -> None:
    data = bytearray(hamilton_faststart.read_bytes())
    noise = np.random.default_rng(1).integers(0, 256, 60_000, dtype=np.uint8).tobytes()
    data[200_000:260_000] = noise
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    source = FileSource("cam-1", damaged, SourceSettings(detect_fps=10))

    frames = list(source.frames())

    assert 60 < len(frames) < 92
    assert frames[-1].pts_s > 9.0  # decoding went on past the damage to the end
    assert source.health.state is SourceState.ENDED
    assert any("skipped an undecodable packet" in w for w in source.health.warnings)
    assert not any("ended early" in w for w in source.health.warnings)


def test_close_stops_at_the_next_frame(hamilton: Path) -> None:
    source = FileSource("cam-1", hamilton, SourceSettings(detect_fps=30))
    frames = []

    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 5:
            source.close()

    assert len(frames) == 5
    assert source.health.state is SourceState.ENDED
    assert source.health.frames_decoded < 10


def box(kind: bytes, length: int, body: bytes = b"") -> bytes:
    return length.to_bytes(4, "big") + kind + body


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (box(b"ftyp", 16, b"isom" * 2) + box(b"mdat", 1000, b"x" * 100), "truncated at 124 of 1016 bytes"),
        (box(b"ftyp", 16, b"isom" * 2) + box(b"moov", 8) + box(b"mdat", 1000), None),  # index first
        (box(b"ftyp", 16, b"isom" * 2) + box(b"mdat", 12, b"xxxx") + box(b"moov", 8), None),  # complete
        (box(b"ftyp", 16, b"isom" * 2) + box(b"mdat", 0, b"x" * 100), None),  # mdat to the end of file
        (box(b"RIFF", 1000), None),  # not an MP4
        (b"", None),
    ],
    ids=["cut-before-moov", "faststart", "complete", "open-ended-mdat", "not-mp4", "empty"],
)
def test_mp4_truncation_names_a_missing_index(tmp_path: Path, content: bytes, expected: str | None) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)

    reason = mp4_truncation(path)

    if expected is None:
        assert reason is None
    else:
        assert reason is not None
        assert reason.startswith(expected)
