"""Clips cut from recorded footage by stream copy: across segment boundaries, timestamps
rebased, the source's packets unchanged; clear errors for windows that cannot be served."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import av
import pytest

from citywatch.domain.errors import InvalidInput, NotFound, Unavailable
from citywatch.retention.footage import ClipExport, export_clip
from citywatch.retention.segments import FootageStore
from citywatch.store.db import open_database
from tests.ingest.test_recorder import HAMILTON_FRAMES, T0, everything, packets, record

FIRST_PTS, TICK, FRAME_TICKS = 10214, 1 / 11988, 400


@pytest.fixture(scope="module")
def recorded(hamilton: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FootageStore]:
    """The Hamilton clip recorded in 3 s segments (cut at 4.0 s and 7.0 s), once per module."""
    root = tmp_path_factory.mktemp("recorded")
    db = open_database(f"sqlite:///{root / 'citywatch.db'}")
    store = FootageStore(db, root / "footage")
    record(hamilton, store)
    assert len(everything(store)) == 3
    yield store
    db.close()


def at(frame: int) -> datetime:
    return T0 + timedelta(seconds=frame * FRAME_TICKS * TICK)


def no_publish(_export: ClipExport) -> None:
    pass


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.time) for f in container.decode(video=0) if f.time is not None]


def clip(store: FootageStore, since: datetime, until: datetime, out: Path, **kw: object) -> ClipExport:
    options: dict[str, object] = {"configured": True, "publish": no_publish} | kw
    return export_clip(store, "cam", since, until, out, **options)  # type: ignore[arg-type]


def test_a_clip_across_a_boundary_decodes_with_the_right_duration(
    recorded: FootageStore, hamilton: Path, tmp_path: Path
) -> None:
    out = tmp_path / "clip.mp4"
    # 3.5 s to 6.5 s: from inside the first segment, across the cut at 4.0 s, into the second
    export = clip(recorded, T0 + timedelta(seconds=3.5), T0 + timedelta(seconds=6.5), out)
    segments = everything(recorded)
    assert export.segment_ids == (segments[0].id, segments[1].id)
    assert export.started_at == at(60)  # the keyframe before 3.5 s (frame 60, 2.0 s)
    last = max(n for n in range(HAMILTON_FRAMES) if at(n) < T0 + timedelta(seconds=6.5))
    assert export.ended_at == at(last + 1)
    times = frame_times(out)
    assert len(times) == last + 1 - 60  # every frame from the keyframe to the end, none lost
    assert abs((times[-1] - times[0]) - (last - 60) * FRAME_TICKS * TICK) < 1e-3  # evenly spaced
    assert abs(export.duration_s - 4.5) < 0.1
    assert packets(out) == packets(hamilton)[60 : last + 1]  # copied, not re-encoded
    assert export.size == out.stat().st_size and not list(tmp_path.glob(".*.tmp"))


def test_the_whole_recording_as_one_clip_is_the_whole_video(
    recorded: FootageStore, hamilton: Path, tmp_path: Path
) -> None:
    out = tmp_path / "all.mp4"
    export = clip(recorded, T0 - timedelta(hours=1), T0 + timedelta(hours=1), out)
    assert len(export.segment_ids) == 3
    assert export.started_at == T0
    assert packets(out) == packets(hamilton)
    assert len(frame_times(out)) == HAMILTON_FRAMES


def test_the_file_appears_only_after_publish(recorded: FootageStore, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    seen: list[ClipExport] = []

    def publish(export: ClipExport) -> None:
        assert not out.exists()
        seen.append(export)

    export = clip(recorded, T0, T0 + timedelta(seconds=1), out, publish=publish)
    assert seen == [export] and out.exists()

    def refuse(_export: ClipExport) -> None:
        raise Unavailable("audit log unavailable")

    other = tmp_path / "refused.mp4"
    with pytest.raises(Unavailable):
        clip(recorded, T0, T0 + timedelta(seconds=1), other, publish=refuse)
    assert not other.exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("camera", "configured", "since_s", "until_s", "error", "message"),
    [
        ("cam", True, 5, 2, InvalidInput, "must start before it ends"),
        ("cam", True, 5, 5, InvalidInput, "must start before it ends"),
        ("nobody", False, 0, 5, NotFound, "unknown camera 'nobody'"),
        ("nobody", True, 0, 5, NotFound, "no footage of camera nobody"),
        ("cam", True, 60, 120, NotFound, "no footage of camera cam"),
        ("cam", False, -60, -1, NotFound, "no footage of camera cam"),
    ],
)
def test_windows_that_cannot_be_served_are_refused_clearly(
    recorded: FootageStore,
    tmp_path: Path,
    camera: str,
    configured: bool,
    since_s: float,
    until_s: float,
    error: type[Exception],
    message: str,
) -> None:
    out = tmp_path / "clip.mp4"
    with pytest.raises(error, match=message):
        export_clip(
            recorded,
            camera,
            T0 + timedelta(seconds=since_s),
            T0 + timedelta(seconds=until_s),
            out,
            configured=configured,
            publish=no_publish,
        )
    assert not out.exists()


def test_an_existing_file_is_kept_unless_forced(recorded: FootageStore, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"mine")
    with pytest.raises(InvalidInput, match="already exists"):
        clip(recorded, T0, T0 + timedelta(seconds=1), out)
    assert out.read_bytes() == b"mine"
    clip(recorded, T0, T0 + timedelta(seconds=1), out, overwrite=True)
    assert len(frame_times(out)) == 30  # frames 0..29 lie before 1.0 s


def test_a_missing_segment_file_is_named(hamilton: Path, tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'citywatch.db'}")
    try:
        store = FootageStore(db, tmp_path / "footage")
        record(hamilton, store)
        lost = everything(store)[1]
        store.absolute(lost.path).unlink()
        with pytest.raises(NotFound, match=f"segment #{lost.id} of camera cam: its file .* is missing"):
            clip(store, T0, T0 + timedelta(seconds=9), tmp_path / "clip.mp4")
    finally:
        db.close()
