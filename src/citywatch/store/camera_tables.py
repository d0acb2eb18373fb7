"""The camera records: the cameras added, changed and removed through the API and the command
line (the configuration file's cameras are not stored here: `citywatch.cameras.service`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citywatch.store.base import SQLITE_AUTOINCREMENT, Base, one_of
from citywatch.store.governance_tables import MODES


class CameraRow(Base):
    """A camera as `config.ingest.CameraSettings` holds it, with who added and last changed it
    and a `version` counted up by each change. `id` is never reused (a camera removed and added
    again is a new row), so that (`id`, `version`) names one state of one record for good."""

    __tablename__ = "cameras"
    __table_args__ = (
        CheckConstraint(one_of("mode", MODES), name="mode"),
        CheckConstraint("length(trim(url)) > 0", name="url_not_blank"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="location_pair"),
        CheckConstraint("version >= 1", name="version_positive"),
        SQLITE_AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    """As the source is opened: it may hold the stream's credentials, never shown or audited."""
    mode: Mapped[str] = mapped_column(String(20))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    source: Mapped[str] = mapped_column(Text)
    """The source settings (`SourceSettings`) as JSON."""
    version: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime]
