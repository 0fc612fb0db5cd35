"""gunicorn's settings for the Flask app under its gevent worker (docs/serving.md).

Run (what the harness starts)::

    python -m gunicorn -c python:benchmarks.servers.gunicorn_conf \\
        benchmarks.servers.flask_app:app

One worker (no message queue), ``-k gevent``, ``--worker-connections``
raised past the 10,000 clients of the largest scenario, as docs/serving.md
says. gunicorn binds a free port; the worker, once it has loaded the app,
prints ``LISTENING <port> <pid>``: the harness measures the worker (its
memory and CPU), not the master.
"""

from __future__ import annotations

import os
from typing import Any

bind = "127.0.0.1:0"
workers = 1
worker_class = "gevent"
worker_connections = 20_000
accesslog = None
loglevel = "warning"


def post_worker_init(worker: Any) -> None:
    from benchmarks.servers.common import announce

    announce(worker.sockets[0].getsockname()[1], os.getpid())
