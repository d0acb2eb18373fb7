"""Footage recording on the shared clip: segments cover the video with no gap and no overlap,
are the source's packets (copied, not re-encoded), lie per UTC day, and a full disk stops
recording cleanly while frames go on to detection."""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import pytest

from citywatch.config.ingest import SourceSettings
from citywatch.config.pipeline import TrackerSettings
from citywatch.config.vision import QualitySettings
from citywatch.domain.footage import PendingSegment, Segment
from citywatch.domain.policy import ProcessingMode
from citywatch.domain.records import SightingSaved
from citywatch.ingest import recorder as recorder_module
from citywatch.ingest.file import FileSource
from citywatch.ingest.recorder import Recorder, RecorderState
from citywatch.ingest.stream import StreamSource
from citywatch.pipeline.camera import CameraPipeline
from citywatch.pipeline.worker import CameraWorker
from citywatch.retention import segments as footage_module
from citywatch.retention.segments import FootageStore
from citywatch.store.db import open_database
from citywatch.track.tracker import Tracker
from citywatch.vision.quality import QualityGate
from tests.fakes.vision import FakeDetector, FakeEmbedder, fixed_policy
from tests.ingest.conftest import MediaServer

T0 = datetime(2026, 11, 27, 8, tzinfo=UTC)
HAMILTON_FRAMES = 275
HAMILTON_S = 275 * 400 / 11988
"""The clip's frames last 400 ticks of 1/11988 s each."""


@pytest.fixture
def footage(tmp_path: Path) -> Iterator[FootageStore]:
    db = open_database(f"sqlite:///{tmp_path / 'db' / 'citywatch.db'}")
    yield FootageStore(db, tmp_path / "footage")
    db.close()


def record(
    path: Path,
    footage: FootageStore,
    *,
    segment_s: float = 3.0,
    started_at: datetime = T0,
    allowed: Callable[[datetime], bool] = lambda _at: True,
) -> tuple[Recorder, int]:
    """Read `path` as camera `cam` with a recorder on it; returns the recorder and frames decoded."""
    rec = Recorder("cam", footage, segment_s=segment_s, allowed=allowed)
    source = FileSource("cam", path, SourceSettings(), started_at=started_at, tap=rec)
    for _ in source.frames():
        pass
    rec.close()
    return rec, source.health.frames_decoded


def everything(footage: FootageStore) -> list[Segment]:
    return footage.segments("cam", T0 - timedelta(days=1), T0 + timedelta(days=2))


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return [bytes(p) for p in container.demux(video) if p.size]


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_segments_cover_the_clip_with_no_gap_and_no_overlap(hamilton: Path, footage: FootageStore) -> None:
    rec, frames = record(hamilton, footage)
    assert frames == HAMILTON_FRAMES
    assert rec.state is RecorderState.STOPPED and rec.error is None
    segments = everything(footage)
    assert len(segments) == rec.segments == 3
    assert segments[0].started_at == T0
    for before, after in pairwise(segments):
        assert before.ended_at == after.started_at
        assert before.duration_s >= 3.0  # cut at the first keyframe from 3 s on
    # the second segment starts at the keyframe of frame 120 (pts 58214, the first at 10214)
    assert segments[1].started_at == T0 + timedelta(seconds=(58214 - 10214) / 11988)
    assert abs((segments[-1].ended_at - T0).total_seconds() - HAMILTON_S) < 1e-3


def test_each_segment_is_a_whole_mp4_as_indexed(hamilton: Path, footage: FootageStore) -> None:
    record(hamilton, footage)
    segments = everything(footage)
    total = 0
    for segment in segments:
        file = footage.absolute(segment.path)
        data = file.read_bytes()
        assert segment.size == len(data)
        assert segment.sha256 == hashlib.sha256(data).hexdigest()
        assert segment.path.startswith("cam/2026-11-27/") and segment.path.endswith(".mp4")
        assert segment.day == "2026-11-27"
        total += decoded_frames(file)
    assert total == HAMILTON_FRAMES
    assert files_under(footage.root) == sorted(s.path for s in segments)  # no temporary file left


def test_packets_are_copied_not_reencoded(hamilton: Path, footage: FootageStore) -> None:
    record(hamilton, footage)
    segments = everything(footage)
    copied = [p for s in segments for p in packets(footage.absolute(s.path))]
    assert copied == packets(hamilton)  # byte for byte, in order
    with av.open(str(hamilton)) as original, av.open(str(footage.absolute(segments[1].path))) as copy:
        a, b = original.streams.video[0].codec_context, copy.streams.video[0].codec_context
        assert (b.name, b.width, b.height, b.profile) == (a.name, a.width, a.height, a.profile)
        assert bytes(b.extradata) == bytes(a.extradata)


def test_a_segment_ends_at_utc_midnight(hamilton: Path, footage: FootageStore) -> None:
    start = datetime(2026, 11, 27, 23, 59, 57, tzinfo=UTC)
    record(hamilton, footage, segment_s=60, started_at=start)
    segments = footage.segments("cam", start, start + timedelta(minutes=1))
    assert [s.day for s in segments] == ["2026-11-27", "2026-11-28"]
    midnight = datetime(2026, 11, 28, tzinfo=UTC)
    assert segments[0].ended_at == segments[1].started_at >= midnight  # the first keyframe after it
    assert (segments[1].started_at - midnight).total_seconds() < 2.1
    assert segments[1].path.startswith("cam/2026-11-28/")


def test_mode_off_is_not_recorded(hamilton: Path, footage: FootageStore) -> None:
    off_from, off_until = T0 + timedelta(seconds=3), T0 + timedelta(seconds=6)
    rec, frames = record(hamilton, footage, segment_s=60, allowed=lambda at: not off_from <= at < off_until)
    assert frames == HAMILTON_FRAMES
    segments = everything(footage)
    assert len(segments) == 2
    assert segments[0].started_at == T0
    assert segments[0].ended_at <= off_from + timedelta(seconds=0.05)
    assert segments[1].started_at >= off_until  # resumed at the next keyframe
    assert not footage.segments("cam", off_from + timedelta(seconds=0.05), off_until)
    assert rec.error is None


def test_raw_h264_without_timestamps_is_recorded(raw_h264: Path, footage: FootageStore) -> None:
    rec, frames = record(raw_h264, footage, segment_s=60)
    assert rec.error is None
    segments = everything(footage)
    assert len(segments) == 1 and segments[0].started_at == T0
    assert abs(segments[0].duration_s - frames / 25) < 0.05
    assert decoded_frames(footage.absolute(segments[0].path)) == frames


def test_a_network_stream_is_recorded(
    hamilton_faststart: Path, serve: Callable[..., MediaServer], footage: FootageStore
) -> None:
    media = serve(hamilton_faststart.read_bytes())
    rec = Recorder("cam", footage, segment_s=3)
    source = StreamSource("cam", media.url, SourceSettings(), clock=lambda: T0, tap=rec)
    frames = sum(1 for _ in source.frames())
    rec.close()
    assert frames > 0 and rec.error is None
    segments = everything(footage)
    assert len(segments) == 3 and segments[0].started_at == T0
    assert sum(decoded_frames(footage.absolute(s.path)) for s in segments) == HAMILTON_FRAMES


# --- failures ----------------------------------------------------------------------------------


def fail_on_call(n: int, real: Callable[..., Any]) -> Callable[..., Any]:
    """`real`, except that its n-th call (from 1) raises ENOSPC, as a full disk does."""
    calls = 0

    def patched(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    return patched


@pytest.mark.parametrize(
    ("target", "call"),
    [
        ("sync_and_hash", 2),  # the fsync of the second segment
        ("sync_and_hash", 1),
        ("fsync_dir", 2),  # after the rename: the file is placed, then removed again
    ],
)
def test_disk_full_while_finishing_a_segment_leaves_no_row_and_no_file(
    hamilton: Path, footage: FootageStore, monkeypatch: pytest.MonkeyPatch, target: str, call: int
) -> None:
    # (day folders are made by store.blobs.make_dirs, whose fsyncs are not counted here)
    real = getattr(footage_module, target)
    monkeypatch.setattr(footage_module, target, fail_on_call(call, real))
    rec, frames = record(hamilton, footage)
    assert frames == HAMILTON_FRAMES  # reading went on
    assert rec.state is RecorderState.FAILED
    assert rec.error is not None and rec.error.startswith("recording stopped: disk full")
    kept = everything(footage)
    assert len(kept) == call - 1 == rec.segments
    assert files_under(footage.root) == sorted(s.path for s in kept)  # no partial file, no temp


def test_disk_full_while_writing_packets_leaves_no_row_and_no_file(
    hamilton: Path, footage: FootageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = av.open

    class FullDisk:
        """An output container whose 50th write fails as a full disk does."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._real = real_open(*args, **kwargs)
            self._mux = fail_on_call(50, self._real.mux)

        def mux(self, packet: Any) -> None:
            self._mux(packet)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._real, name)

    monkeypatch.setattr(recorder_module, "av", SimpleNamespace(open=FullDisk))
    rec, frames = record(hamilton, footage)
    assert frames == HAMILTON_FRAMES
    assert rec.state is RecorderState.FAILED
    assert rec.error is not None and "disk full while writing footage cam/2026-11-27/" in rec.error
    assert everything(footage) == []
    assert files_under(footage.root) == []


def test_a_camera_whose_recording_fails_goes_on_detecting(
    hamilton: Path, footage: FootageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(footage_module, "sync_and_hash", fail_on_call(1, footage_module.sync_and_hash))
    rec = Recorder("cam", footage, segment_s=3)
    source = FileSource("cam", hamilton, SourceSettings(detect_fps=4), started_at=T0, tap=rec)
    pipeline = CameraPipeline(
        camera_id="cam",
        policy=fixed_policy(ProcessingMode.DETECT),
        detector=FakeDetector(),
        gate=QualityGate(QualitySettings(min_sharpness=0)),
        tracker=Tracker(TrackerSettings(), "cam"),
        embedder=FakeEmbedder(),
        index=lambda _allowed: pytest.fail("detect mode never matches"),
        save=lambda _record: SightingSaved(1, None, "crop.jpg"),
        embed_shots=1,
    )
    worker = CameraWorker(source, pipeline, live=False, recorder=rec)
    worker.start()
    assert worker.join(20)
    status = worker.status()
    assert status.state == "ended"
    assert pipeline.stats.frames == source.health.frames_sampled > 30  # every sampled frame looked at
    assert status.recording.startswith("recording stopped: disk full")
    assert status.error == rec.error
    assert everything(footage) == [] and files_under(footage.root) == []


def test_an_unwritable_footage_folder_stops_recording_with_a_clear_error(
    hamilton: Path, tmp_path: Path
) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'citywatch.db'}")
    try:
        blocker = tmp_path / "footage"
        blocker.write_text("a file where the footage folder should be")
        rec, frames = record(hamilton, FootageStore(db, blocker))
    finally:
        db.close()
    assert frames == HAMILTON_FRAMES
    assert rec.state is RecorderState.FAILED
    assert rec.error is not None and "cannot create" in rec.error


class Sink:
    """A sink that records what it was given, for the recorder's own rules."""

    def __init__(self, store: FootageStore) -> None:
        self.store = store
        self.discarded: list[str] = []

    def begin_segment(self, camera_id: str, started_at: datetime) -> PendingSegment:
        return self.store.begin_segment(camera_id, started_at)

    def add_segment(self, pending: PendingSegment, ended_at: datetime) -> Segment:
        return self.store.add_segment(pending, ended_at)

    def discard(self, pending: PendingSegment) -> None:
        self.discarded.append(pending.path)
        self.store.discard(pending)


def test_closing_twice_and_packets_after_close_are_harmless(hamilton: Path, footage: FootageStore) -> None:
    sink = Sink(footage)
    rec = Recorder("cam", sink, segment_s=3)
    source = FileSource("cam", hamilton, SourceSettings(), started_at=T0, tap=rec)
    frames = source.frames()
    for _ in range(30):
        next(frames)
    rec.close()  # mid-file, as a stopped camera is
    rec.close()
    for _ in frames:  # the source drains on; the recorder ignores it
        pass
    segments = everything(footage)
    assert len(segments) == 1 and rec.segments == 1 and sink.discarded == []
    assert segments[0].started_at == T0 and segments[0].duration_s > 0.5
