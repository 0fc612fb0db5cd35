"""Node.js and the npm packages the interop tests run (tests/node/package.json)."""

from __future__ import annotations

from tests.support.node import node

__all__ = ["APP", "node"]

#: The app every interop server runs (tests/support/interop_apps.py).
APP = "tests.support.interop_apps:interop"
