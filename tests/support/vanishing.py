"""Clients that vanish mid-exchange, and what the server's log says about them.

:func:`logged_server` starts a test app in a child process that logs at
DEBUG to a file; :class:`ServerLog` reads what it logged since a mark and
finds what would read like a crash (a traceback, an ERROR or WARNING line,
or anything written to stderr around the logging module). :func:`connect`
opens a plain socket with a small receive window, so that a large response
cannot be written whole before the client reads, and :func:`vanish` closes
it with a TCP reset.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.support.servers import ServerProcess

__all__ = ["ServerLog", "connect", "logged_server", "plain_app", "read_some", "vanish"]

#: A line as tests/support/serve_app.py's logging format writes it.
_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
)
#: What the server logs for a client gone (at DEBUG): the engine, the
#: embedded servers, the WebSocket writer.
GONE = re.compile(r" DEBUG .*(gone mid-request|went away|write failed)")


def logged_server(
    app: str,
    mode: str,
    log_path: Path,
    http_timeout: float = 60.0,
    monkey_patch: bool = False,
    **options: Any,
) -> ServerProcess:
    """Start ``app`` in ``mode``, logging at DEBUG to ``log_path``."""
    env = {"REALTIME_TEST_LOG_LEVEL": "DEBUG"}
    if monkey_patch:
        env["REALTIME_TEST_MONKEY_PATCH"] = "1"
    server = ServerProcess(app, mode, dict(options), http_timeout, env, log_path=str(log_path))
    return server.start()


class ServerLog:
    """The log file of a :func:`logged_server`, read from a mark on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mark = 0

    def mark(self) -> None:
        """Read only what is logged from now on."""
        self._mark = self.path.stat().st_size

    def since_mark(self) -> str:
        with self.path.open("rb") as file:
            file.seek(self._mark)
            return file.read().decode("utf-8", "replace")

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 5.0) -> bool:
        """Whether a line matching ``pattern`` is logged within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pattern.search(self.since_mark()):
                return True
            time.sleep(0.05)
        return False

    def crash_like(self) -> list[str]:
        """What was logged since the mark that reads like a crash.

        A traceback (anywhere), an ERROR, WARNING or CRITICAL line, and any
        line the logging module did not write (a traceback printed by a
        server to stderr, a ``print``), tracebacks' own lines included.
        """
        problems: list[str] = []
        for line in self.since_mark().splitlines():
            match = _LOG_LINE.match(line)
            level = match.group(1) if match is not None else None
            if level in (None, "WARNING", "ERROR", "CRITICAL") or "Traceback" in line:
                problems.append(line)
        return problems


def connect(port: int, receive_buffer: int = 4096, timeout: float = 10) -> socket.socket:
    """A client socket with a small receive window (set before it connects)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def read_some(sock: socket.socket, count: int) -> bytes:
    """Read at least ``count`` bytes (or up to the end of the stream)."""
    data = b""
    while len(data) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def vanish(sock: socket.socket) -> None:
    """Close with a TCP reset, as a client whose process died or whose network went."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def plain_app(mode: str, **options: Any) -> Any:
    """A WSGI app without the engine, for the embedded servers alone.

    ``/big?n=N``: N bytes in 64 KiB chunks. ``/backend-reset``: the
    application's own connection (to some backend) was reset: a
    ConnectionResetError while the client is still there, which is the
    application's error to report. ``/ok``: ``ok``.
    """

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/big":
            size = int(parse_qs(environ.get("QUERY_STRING", ""))["n"][0])
            start_response(
                "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(size))]
            )
            chunk = b"x" * 65536
            return (chunk[: min(65536, size - at)] for at in range(0, size, 65536))
        if path == "/backend-reset":
            raise ConnectionResetError("backend reset (the application's own connection)")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    return app
