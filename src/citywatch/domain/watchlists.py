"""Watchlist categories and the states of an alert."""

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
