"""Audit: a hash-chained, signed record of every sensitive action. Never holds biometric data."""
