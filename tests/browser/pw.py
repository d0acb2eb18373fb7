"""Playwright for the browser tests, or the reason there is none: a module that imports from
here is skipped when playwright is not installed, saying so, except under CI=true, where
`make install` provides it and its absence fails the run."""

from __future__ import annotations

import os

import pytest

try:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
except ImportError as exc:  # the dev extra is not installed
    if os.environ.get("CI", "").lower() == "true":
        raise ImportError("playwright is not installed (make install provides it)") from exc
    pytest.skip("playwright is not installed: run make install", allow_module_level=True)

__all__ = ["Browser", "BrowserContext", "Locator", "Page", "expect", "sync_playwright"]
