"""What every benchmarked Python server shares: the room, the port handshake, limits.

Each server module runs as ``python -m benchmarks.servers.NAME --port P`` and
prints ``LISTENING <port> [<pid>]`` on stdout once its socket accepts
connections, as ``tests/support/serve_app.py`` does, so the harness can start
them alike. ``<pid>`` is the process that serves, when it is not the one the
harness started (a gunicorn worker).
"""

from __future__ import annotations

import argparse
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable

#: The room of the fan-out scenario.
ROOM = "bench"
HOST = "127.0.0.1"


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", default="eventlet", help="async mode")
    parser.add_argument(
        "--tracemalloc",
        metavar="REPORT",
        help="trace allocations: SIGUSR1 takes the baseline, SIGUSR2 writes what was "
        "allocated since, by call stack, to REPORT",
    )
    return parser.parse_args()


def raise_fd_limit() -> None:
    """Raise the soft open-files limit to the hard one (10,000 clients need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def announce(port: int, pid: int | None = None) -> None:
    sys.stdout.write(f"LISTENING {port}" + (f" {pid}" if pid else "") + "\n")
    sys.stdout.flush()


def free_port() -> int:
    """A port nothing listens on now (for a ``run()`` that takes a port, not a socket)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def serve_announced(run: Callable[[int], None], port: int = 0) -> None:
    """Call ``run(port)`` (which serves until the process ends) and announce the port
    once it accepts connections.

    ``run`` is the app's own ``socketio.run(...)``, which binds the port itself
    and says nothing on stdout, so a thread (a green one where the program is
    monkey patched) connects until it gets through.
    """
    port = port or free_port()

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    announce(port)
                    return
            except OSError:
                time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    run(port)


def trace_if_asked(report: str | None) -> None:
    if report:
        from benchmarks.servers.memory import trace_allocations

        trace_allocations(report)
