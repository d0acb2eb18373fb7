"""Governance: authorisations, zones and events, the policy in force, changes waiting for a
second person, transparency."""
