"""Tracking, matching and search settings."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from citywatch.config.base import Section
from citywatch.domain.retention import AUDIT_DAYS_MIN, DataClass, HoldBounds, RetentionPolicy


class TrackerSettings(Section):
    iou_threshold: float = Field(0.3, gt=0, lt=1, description="Least overlap to continue a track.")
    max_gap_s: float = Field(1.0, gt=0, le=60, description="A track unseen this long is finished.")
    best_shots: int = Field(3, ge=1, le=20, description="Best shots kept per track, by quality.")
    embed_shots: int = Field(
        2, ge=1, le=20, description="Best shots embedded per track (at most best_shots)."
    )
    min_detections: int = Field(2, ge=1, le=1000, description="Shorter tracks are dropped as noise.")


class MatchingSettings(Section):
    threshold: float = Field(
        0.6,
        gt=0,
        le=2,
        description="Default Euclidean distance under which a face matches a watchlist person "
        "(calibrated, see docs/calibration.md).",
    )
    margin: float = Field(
        0.04, ge=0, le=1, description="Default distance the runner-up person must be farther by."
    )
    verify_threshold: float = Field(
        0.6, gt=0, le=2, description="Distance under which `verify` calls two photos the same person."
    )
    search_threshold: float = Field(0.6, gt=0, le=2, description="Farthest sighting `search` returns.")
    search_limit: int = Field(50, ge=1, le=10_000, description="Most sightings `search` returns.")
    search_max_window_h: float = Field(
        120.0, gt=0, le=24 * 400, description="Longest time window one case search may cover, in hours."
    )


class PolicySettings(Section):
    urgent_approval_h: float = Field(
        24.0,
        gt=0,
        le=24 * 14,
        description="Hours a supervisor has to approve an urgent authorisation; after that, matching "
        "under it stops and everything derived under it is deleted, with a receipt.",
    )
    refresh_s: float = Field(
        2.0,
        gt=0,
        le=300,
        description="How often running cameras re-read zones, events, rules and authorisations.",
    )
    independence_days: float = Field(
        30.0,
        ge=7,
        le=3650,
        description="Two-person rule: the second person must not have been created, re-enabled, given "
        "a password or a personal token by the first within this many days before the step began "
        "(nor hold a password the first set, ever). At least 7, so that an account made for the "
        "purpose cannot be used at once.",
    )


class RetentionSettings(Section):
    """How long each class of data is kept before the purge deletes it (unless held)."""

    footage_days: float = Field(5.0, gt=0, le=3650, description="Recorded footage segments.")
    sightings_days: float = Field(5.0, gt=0, le=3650, description="Sightings and their best-shot crops.")
    templates_days: float = Field(
        5.0,
        gt=0,
        le=3650,
        description="Templates kept with sightings (investigate mode); at most sightings_days.",
    )
    alerts_days: float = Field(5.0, gt=0, le=3650, description="Alerts (their sightings are kept as long).")
    exports_days: float = Field(5.0, gt=0, le=3650, description="Export packages.")
    audit_days: float = Field(
        400.0,
        ge=AUDIT_DAYS_MIN,
        le=36500,
        description=f"Audit records (no biometric data): at least {AUDIT_DAYS_MIN:g} days (six months, "
        "as the EU AI Act keeps biometric identification logs) and at least every other class's "
        "retention, so the record of who saw or searched something outlives it.",
    )
    purge_every_min: float = Field(
        60.0, gt=0, le=24 * 60, description="How often `citywatch run` purges what has expired."
    )
    hold_max_days: float = Field(
        92.0, gt=0, le=3650, description="The longest time window any legal hold may cover."
    )
    hold_alone_days: float = Field(
        14.0,
        gt=0,
        le=3650,
        description="The longest window one person holds alone; longer waits for a second person.",
    )
    hold_alone_camera_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="The largest share of the cameras one person holds alone; more waits for a "
        "second person (a city-wide hold).",
    )
    hold_pending_hours: float = Field(
        72.0,
        gt=0,
        le=30 * 24,
        description="How long a hold waiting for a second person keeps data; unapproved, it lapses.",
    )

    @field_validator("audit_days", mode="before")
    @classmethod
    def verify_audit_floor(cls, value: object) -> object:
        """Refuse a short audit retention with the reason, before the bound's bare message."""
        try:
            days = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return value  # the field's own validation names the type error
        if days < AUDIT_DAYS_MIN:
            raise ValueError(
                f"retention.audit_days must be at least {AUDIT_DAYS_MIN:g} days, got {days:g}: the audit log "
                "is the record of who identified, searched, exported and deleted what; a shorter "
                "retention would let the purge erase it (six months is the EU AI Act's floor for the "
                "logs of biometric identification)"
            )
        return value

    @model_validator(mode="after")
    def verify_audit_outlives_data(self) -> RetentionSettings:
        longest = max(self.footage_days, self.sightings_days, self.alerts_days, self.exports_days)
        if self.audit_days < longest:
            raise ValueError(
                f"retention.audit_days ({self.audit_days:g}) must not be shorter than the longest other "
                f"retention ({longest:g} days): the record of who saw or searched data must outlive it"
            )
        return self

    @model_validator(mode="after")
    def verify_templates(self) -> RetentionSettings:
        if self.templates_days > self.sightings_days:
            raise ValueError("retention.templates_days must not exceed retention.sightings_days")
        return self

    @model_validator(mode="after")
    def verify_hold_days(self) -> RetentionSettings:
        if self.hold_alone_days > self.hold_max_days:
            raise ValueError("retention.hold_alone_days must not exceed retention.hold_max_days")
        return self

    def hold_bounds(self) -> HoldBounds:
        return HoldBounds(
            max_days=self.hold_max_days,
            alone_days=self.hold_alone_days,
            alone_camera_share=self.hold_alone_camera_share,
            pending_hours=self.hold_pending_hours,
        )

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy(
            {
                DataClass.FOOTAGE: self.footage_days,
                DataClass.SIGHTINGS: self.sightings_days,
                DataClass.TEMPLATES: self.templates_days,
                DataClass.ALERTS: self.alerts_days,
                DataClass.EXPORTS: self.exports_days,
                DataClass.AUDIT: self.audit_days,
            }
        )


class RequestSettings(Section):
    law_enforcement_deadline_days: float = Field(
        7.0, gt=0, le=365, description="Days a supervisor has to answer a law-enforcement request."
    )
    subject_access_deadline_days: float = Field(
        30.0, gt=0, le=365, description="Days to answer a member of the public's subject-access request."
    )
    scan_fps: float = Field(
        2.0,
        gt=0,
        le=30,
        description="Frames per second of footage the system searches for a subject-access requester.",
    )
    appearance_pad_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Seconds of footage kept either side of where the requester was seen (more than 0: "
        "a single sampled frame has no length of its own).",
    )
    keep_threshold: float = Field(
        0.55,
        gt=0,
        le=2,
        description="Distance to the requester's photo under which a face is left visible in a "
        "subject-access export; every other face is blurred (and its box in the frames around it). "
        "Stricter than matching.search_threshold (0.6), which only decides where to look. Measured "
        "on the Hamilton clip (275 frames; YuNet at the redaction floor, dlib ResNet): the "
        "requester's face is at 0.32-0.60 (median 0.50), and no face in the stretches without him "
        "comes closer than 0.605. At 0.5 the requester was kept in 77 frames but, once each "
        "blurred box also covers the 8 frames either side, visible in only 9; at 0.55 in 29, with "
        "0.05 to spare before the nearest stranger.",
    )
    redact_min_score: float = Field(
        0.5,
        ge=0.05,
        le=1,
        description="Detector score from which a face is blurred in a subject-access export "
        "(below the usual floor: better a blurred shadow than a visible face).",
    )
