"""Watchlists: persons, their reference images and templates, enrolment, verification."""
