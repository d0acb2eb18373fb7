"""The root of the configuration tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from citywatch.config.alerts import AlertSettings
from citywatch.config.api import ApiSettings
from citywatch.config.audit import AuditSettings
from citywatch.config.delivery import DeliverySettings
from citywatch.config.ingest import CameraSettings, SourceSettings
from citywatch.config.logs import LoggingSettings
from citywatch.config.pipeline import (
    MatchingSettings,
    PolicySettings,
    RequestSettings,
    RetentionSettings,
    TrackerSettings,
)
from citywatch.config.recording import RecordingSettings
from citywatch.config.restarts import RestartSettings
from citywatch.config.vision import (
    DetectorSettings,
    DlibResNetSettings,
    EmbedderSettings,
    QualitySettings,
    YuNetSettings,
)

ENV_PREFIX = "CITYWATCH_"


class Settings(BaseSettings):
    """Everything citywatch reads at start; environment variables `CITYWATCH_<KEY>` (nested
    with `__`, e.g. `CITYWATCH_MATCHING__THRESHOLD`) override the file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Field(
        Path("citywatch-data"),
        description="Database and face crops live here (relative paths: to the config file).",
    )
    models_dir: Path = Field(
        Path("models"), description="Folder holding model files such as the YuNet ONNX file."
    )
    database_url: str = Field(
        "",
        description=(
            "SQLAlchemy URL; empty means SQLite at <data_dir>/citywatch.db. PostgreSQL: "
            "postgresql+psycopg://user@host:5432/citywatch (migrated on first use, like SQLite)."
        ),
    )
    storage: str = Field(
        "",
        description=(
            "Where footage, crops, reference images and export packages are kept: empty for "
            "folders under data_dir; s3://bucket/prefix for S3-compatible object storage (its "
            "endpoint and credentials from boto3's environment: AWS_ENDPOINT_URL_S3, "
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)."
        ),
        pattern=r"^$|^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9_.-]+)*/?$",
    )
    bus: str = Field(
        "",
        description=(
            "How the processes of a city talk: empty for one process tree on one machine; "
            "nats://host:4222 (comma-separated for a cluster) for NATS JetStream, which also "
            "holds the camera and singleton leases."
        ),
        pattern=r"^$|^nats://[^\s,]+(,nats://[^\s,]+)*$",
    )
    detector: DetectorSettings = Field(default_factory=lambda: YuNetSettings())  # noqa: PLW0108
    quality: QualitySettings = Field(default_factory=QualitySettings)
    embedder: EmbedderSettings = Field(default_factory=lambda: DlibResNetSettings())  # noqa: PLW0108
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    alerts: AlertSettings = Field(
        default_factory=AlertSettings, description="How matches become alerts (one per camera episode)."
    )
    policy: PolicySettings = Field(default_factory=PolicySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    requests: RequestSettings = Field(default_factory=RequestSettings)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    delivery: DeliverySettings = Field(
        default_factory=DeliverySettings,
        description="Where alerts are delivered (MQTT, signed webhooks), with retries and a dead-letter.",
    )
    api: ApiSettings = Field(
        default_factory=ApiSettings,
        description="The HTTP API `citywatch run` serves (off by default): the live alert feed.",
    )
    source: SourceSettings = Field(
        default_factory=SourceSettings, description="How `citywatch watch` opens and reads its source."
    )
    audit: AuditSettings = Field(
        default_factory=AuditSettings,
        description="The audit log's witness: signed chain heads kept outside the database.",
    )
    restarts: RestartSettings = Field(
        default_factory=RestartSettings,
        description="How `citywatch run` restarts a camera worker or service that dies, and when "
        "it gives up on one.",
    )
    logging: LoggingSettings = Field(
        default_factory=LoggingSettings, description="The log's format (text or JSON lines)."
    )
    cameras: list[CameraSettings] = Field(
        default_factory=list, description="Cameras `citywatch run` watches."
    )

    @field_validator("cameras")
    @classmethod
    def verify_unique_camera_ids(cls, cameras: list[CameraSettings]) -> list[CameraSettings]:
        seen: set[str] = set()
        for cam in cameras:
            if cam.id in seen:
                raise ValueError(f"camera id {cam.id!r} is used twice")
            seen.add(cam.id)
        return cameras

    @model_validator(mode="after")
    def verify_embed_shots(self) -> Settings:
        if self.tracker.embed_shots > self.tracker.best_shots:
            raise ValueError("tracker.embed_shots must not exceed tracker.best_shots")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment wins over them.
        return (env_settings, init_settings)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'citywatch.db'}"

    @property
    def witness_path(self) -> Path:
        """The audit witness file: `audit.witness_path`, else in the data folder."""
        return self.audit.witness_path or self.data_dir / "audit-witness.jsonl"

    def resolved(self, base: Path) -> Settings:
        """Relative folders made absolute against `base` (the config file's folder)."""
        updates: dict[str, Any] = {}
        if not self.data_dir.is_absolute():
            updates["data_dir"] = (base / self.data_dir).resolve()
        if not self.models_dir.is_absolute():
            updates["models_dir"] = (base / self.models_dir).resolve()
        witness = self.audit.witness_path
        if witness is not None and not witness.is_absolute():
            updates["audit"] = self.audit.model_copy(update={"witness_path": (base / witness).resolve()})
        return self.model_copy(update=updates)
