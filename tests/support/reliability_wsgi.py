"""WSGI entry point of :mod:`tests.support.reliability_app` for gunicorn.

``REALTIME_TEST_MODE`` names the async mode, ``REALTIME_TEST_QUEUE`` the
message queue, ``REALTIME_TEST_PING`` the ping interval and timeout
(``"25,20"``, seconds); ``REALTIME_TEST_LOG`` a level (``INFO``) for the
library's loggers, when looking into a failure.
"""

from __future__ import annotations

import logging
import os

from tests.support.reliability_app import create_app

if os.environ.get("REALTIME_TEST_LOG"):
    logging.basicConfig(
        level=os.environ["REALTIME_TEST_LOG"],
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
_interval, _timeout = (float(x) for x in os.environ.get("REALTIME_TEST_PING", "25,20").split(","))
app = create_app(
    os.environ["REALTIME_TEST_MODE"],
    message_queue=os.environ["REALTIME_TEST_QUEUE"],
    ping_interval=_interval,
    ping_timeout=_timeout,
)
