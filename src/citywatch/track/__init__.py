"""Tracking: follows faces across the frames of one camera and keeps each track's best shots."""
