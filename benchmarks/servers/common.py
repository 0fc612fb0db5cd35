"""What every benchmarked Python server shares: the room, the port handshake, limits.

Each server module runs as ``python -m benchmarks.servers.NAME --port P`` and
prints ``LISTENING <port>`` on stdout once its socket is bound, as
``tests/support/serve_app.py`` does, so the harness can start them alike.
"""

from __future__ import annotations

import argparse
import resource
import sys

#: The room of the fan-out scenario.
ROOM = "bench"


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", default="eventlet", help="async mode")
    return parser.parse_args()


def raise_fd_limit() -> None:
    """Raise the soft open-files limit to the hard one (10,000 clients need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def announce(port: int) -> None:
    sys.stdout.write(f"LISTENING {port}\n")
    sys.stdout.flush()
