"""WSGI entry point for gunicorn tests: the engine echo app in the worker's mode.

``REALTIME_TEST_LOG_LEVEL`` set: realtime's loggers write to stderr (gunicorn's log).
"""

from __future__ import annotations

import logging
import os

from tests.support.apps import engine_echo

if os.environ.get("REALTIME_TEST_LOG_LEVEL"):
    logging.basicConfig(
        level=os.environ["REALTIME_TEST_LOG_LEVEL"],
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

# "auto" leaves the choice to realtime, as an app that names no mode does.
_mode = os.environ["REALTIME_TEST_MODE"]
app = engine_echo(None if _mode == "auto" else _mode)  # type: ignore[arg-type]
