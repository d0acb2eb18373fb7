"""Composition root: builds every component from settings and owns threads and shutdown."""
