"""Matching: exact 1:N search of templates against the active watchlists."""
