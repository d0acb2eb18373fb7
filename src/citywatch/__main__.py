"""`python -m citywatch` entry point."""

from citywatch.cli.main import run

run()
