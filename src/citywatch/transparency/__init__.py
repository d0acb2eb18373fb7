"""The public transparency report: counts of what the system did and deleted, never a name."""
