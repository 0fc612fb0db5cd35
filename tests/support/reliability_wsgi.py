"""WSGI entry point of :mod:`tests.support.reliability_app` for gunicorn.

``REALTIME_TEST_MODE`` names the async mode, ``REALTIME_TEST_QUEUE`` the
message queue, ``REALTIME_TEST_PING`` the ping interval and timeout
(``"25,20"``, seconds).
"""

from __future__ import annotations

import os

from tests.support.reliability_app import create_app

_interval, _timeout = (float(x) for x in os.environ.get("REALTIME_TEST_PING", "25,20").split(","))
app = create_app(
    os.environ["REALTIME_TEST_MODE"],
    message_queue=os.environ["REALTIME_TEST_QUEUE"],
    ping_interval=_interval,
    ping_timeout=_timeout,
)
