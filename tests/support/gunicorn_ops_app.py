"""WSGI entry point for the metrics test under gunicorn with several workers
(prometheus_client's multiprocess mode): the operations app of
tests/support/operations_apps.py, Flask or bare (``REALTIME_TEST_APP``), in
the async mode ``REALTIME_TEST_MODE``."""

from __future__ import annotations

import os

from tests.support.operations_apps import flask_ops, sio_ops

_factory = flask_ops if os.environ.get("REALTIME_TEST_APP") == "flask" else sio_ops
app = _factory(os.environ["REALTIME_TEST_MODE"])
