"""WSGI entry point for gunicorn tests: the engine echo app in the worker's mode."""

from __future__ import annotations

import os

from tests.support.apps import engine_echo

# "auto" leaves the choice to realtime, as an app that names no mode does.
_mode = os.environ["REALTIME_TEST_MODE"]
app = engine_echo(None if _mode == "auto" else _mode)  # type: ignore[arg-type]
