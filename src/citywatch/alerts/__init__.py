"""Alerts: raised from matches (cooldown, severity), reviewed by two people, viewed, delivered."""
