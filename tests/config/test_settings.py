from pathlib import Path

import pytest

from citywatch.config.ingest import ProcessingMode
from citywatch.config.load import load
from citywatch.config.template import default_config_text
from citywatch.config.vision import HogSettings
from citywatch.domain.errors import InvalidInput

GOOD = """\
data_dir: var
detector:
  type: hog
  upsample: 0
cameras:
  - id: gate-1
    url: rtsp://127.0.0.1/stream
    mode: investigate
    source:
      detect_fps: 5
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "citywatch.yaml"
    p.write_text(text)
    return p


def test_a_good_file_loads_with_paths_resolved_against_it(tmp_path: Path) -> None:
    s = load(write(tmp_path, GOOD))
    assert s.data_dir == (tmp_path / "var").resolve()
    assert isinstance(s.detector, HogSettings) and s.detector.upsample == 0
    (cam,) = s.cameras
    assert cam.id == "gate-1"
    assert cam.mode is ProcessingMode.INVESTIGATE
    assert cam.source.detect_fps == 5


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        (
            GOOD.replace("detect_fps: 5", "detect_fps: 0"),
            10,
            "cameras[0].source.detect_fps",
            "greater than 0",
        ),
        (GOOD.replace("upsample: 0", "upsample: 0\n  colour: red"), 5, "detector.colour", "Extra inputs"),
        (GOOD.replace("type: hog", "type: ssd"), 2, "detector", "does not match any of the expected tags"),
        (GOOD + "  - id: gate-1\n    url: x.mp4\n", 5, "cameras", "used twice"),
        ("matching:\n  threshold: -1\n", 2, "matching.threshold", "greater than 0"),
        ("tracker:\n  best_shots: 2\n  embed_shots: 3\n", None, "(top level)", "embed_shots"),
    ],
)
def test_errors_name_the_key_and_line(
    tmp_path: Path, text: str, line: int | None, key: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidInput) as exc:
        load(path)
    msg = str(exc.value)
    assert f"{key}:" in msg
    assert message in msg
    if line is not None:
        assert f"{path}:{line}:" in msg


@pytest.mark.parametrize("text", ["&retention: {footage_days: 5}\n", "null: 1\n", "1: 2\n"])
def test_a_top_level_key_that_is_not_a_name_is_refused_clearly(tmp_path: Path, text: str) -> None:
    # found by fuzzing: a YAML anchor or a complex key reached Settings(**data) as a TypeError
    path = tmp_path / "citywatch.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput, match="is not a name"):
        load(path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "data_dir: var\ncameras: [\n  - id: x\n")
    with pytest.raises(InvalidInput, match=r"citywatch.yaml:\d+: not valid YAML"):
        load(path)


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="citywatch init"):
        load(tmp_path / "nope.yaml")


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYWATCH_MATCHING__THRESHOLD", "0.42")
    s = load(write(tmp_path, "matching:\n  threshold: 0.5\n"))
    assert s.matching.threshold == 0.42


def test_bad_environment_value_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYWATCH_MATCHING__THRESHOLD", "-3")
    with pytest.raises(InvalidInput, match=r"environment or default\): matching.threshold"):
        load(write(tmp_path, "data_dir: var\n"))


def test_default_file_is_commented_and_loads_to_the_defaults(tmp_path: Path) -> None:
    text = default_config_text()
    assert "# Smallest face side kept, in pixels. (>= 8, <= 1024)" in text
    s = load(write(tmp_path, text))
    assert s.matching.threshold == load(write(tmp_path, "{}\n")).matching.threshold
    assert s.cameras == []
