"""Headless Chromium (Debian's package) driven by Playwright, one per test worker."""

from __future__ import annotations

from tests.support.browser import browser, context

__all__ = ["browser", "context"]
