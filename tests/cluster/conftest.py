"""Fixtures of the cluster tests: Node (headless Chromium comes from
tests/support/browser.py, registered by tests/conftest.py)."""

from __future__ import annotations

from tests.support.node import node

__all__ = ["node"]
