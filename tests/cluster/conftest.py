"""Fixtures of the cluster tests: Node, and headless Chromium."""

from __future__ import annotations

from tests.support.browser import browser, context
from tests.support.node import node

__all__ = ["browser", "context", "node"]
