"""Sightings: the faces the cameras saw, as the pipeline hands them over, stored with their
crop (and their template where the mode keeps one), read by case search, requests and
exports, purged by retention."""
