"""Enrolled persons can be listed, updated and removed; removal deletes the templates."""

from __future__ import annotations

from pathlib import Path

from tests.databases import metadata_sql
from tests.integration.cli_helpers import citywatch, enroll


def test_person_lifecycle(tmp_path: Path, shared_data: Path) -> None:
    ex = shared_data / "face_recognition/examples"
    assert enroll(tmp_path, shared_data, "Barack Obama", ex / "obama.jpg").code == 0
    more = citywatch(
        tmp_path,
        shared_data,
        "enroll",
        str(ex / "obama2.jpg"),
        "--name",
        "ignored",
        "--person-id",
        "1",
        "--source",
        "press photo",
        "--legal-basis",
        "test",
    )
    assert more.code == 0, more.stderr
    db = metadata_sql(tmp_path / "data")
    refs = [r[0] for r in db.execute("select blob_path from reference_images")]
    assert len(refs) == 2 and all((tmp_path / "data/blobs" / r).is_file() for r in refs)
    assert db.execute("select count(*) from templates where person_id = 1").fetchone() == (2,)

    listed = citywatch(tmp_path, shared_data, "persons", "list")
    assert "Barack Obama" in listed.stdout and listed.code == 0

    upd = citywatch(tmp_path, shared_data, "persons", "update", "1", "--name", "B. Obama")
    assert upd.code == 0 and "B. Obama" in upd.stdout

    gone = citywatch(tmp_path, shared_data, "persons", "remove", "1", "--yes")
    assert gone.code == 0, gone.stderr
    assert "2 template(s)" in gone.stdout
    db = metadata_sql(tmp_path / "data")
    assert db.execute("select count(*) from templates").fetchone() == (0,)
    assert db.execute("select count(*) from reference_images").fetchone() == (0,)
    assert not any((tmp_path / "data/blobs" / r).exists() for r in refs)

    missing = citywatch(tmp_path, shared_data, "persons", "show", "1")
    assert missing.code == 3 and "Traceback" not in missing.stderr
