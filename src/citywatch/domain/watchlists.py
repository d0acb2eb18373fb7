"""Watchlist categories, the severity their alerts carry, and the states of an alert."""

from enum import StrEnum


class WatchlistCategory(StrEnum):
    WANTED = "wanted"
    MISSING = "missing"
    STAY_AT_HOME = "stay_at_home"
    OTHER = "other"


class AlertStatus(StrEnum):
    """An alert's review state: new → acknowledged → confirmed (two people) or dismissed."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class Severity(StrEnum):
    """How urgent a watchlist's alerts are; copied onto each alert when it is raised."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"
