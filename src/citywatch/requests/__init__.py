"""Requests: law enforcement and subject access, redaction, export packages."""
