"""WSGI entry point for gunicorn tests with several workers sharing a message queue.

``REALTIME_TEST_MODE`` names the async mode, ``REALTIME_TEST_QUEUE`` the
broker and ``REALTIME_TEST_CHANNEL`` the deployment's channel.
"""

from __future__ import annotations

import os

from tests.support.cluster_apps import sio_cluster

_mode = os.environ["REALTIME_TEST_MODE"]
app = sio_cluster(
    None if _mode == "auto" else _mode,  # type: ignore[arg-type]
    message_queue=os.environ["REALTIME_TEST_QUEUE"],
    channel=os.environ["REALTIME_TEST_CHANNEL"],
)
