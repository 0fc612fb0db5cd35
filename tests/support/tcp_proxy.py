"""A TCP proxy on 127.0.0.1 that plays a network outage, for tests.

Real sockets, no mocks: a client (a browser, say) talks to the proxy, the
proxy to the server. :meth:`TcpProxy.outage` cuts every connection (the
client's ends are reset, the server's closed) and refuses new ones for a
while, as a dropped network does; :meth:`TcpProxy.blackhole` before it makes
the connections in place swallow what is sent first, as a network that dies
silently does.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>``.

    Args:
        target_port: the server's port.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._down_until = 0.0
        self._swallowing = False
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()
        return self

    def blackhole(self) -> None:
        """The connections in place drop what they get, without closing (until :meth:`outage`)."""
        self._swallowing = True

    def outage(self, seconds: float) -> None:
        """Cut every connection, and refuse new ones for ``seconds``."""
        with self._lock:
            self._swallowing = False
            self._down_until = time.monotonic() + seconds
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            _reset(sock)

    def close(self) -> None:
        self._closed = True
        self.outage(0)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if time.monotonic() < self._down_until:
                _reset(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, server))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if not self._swallowing:
                    dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with self._lock:
                self._open.discard(sock)
            _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (no FIN): the peer sees the connection fail."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)  # wakes a thread blocked in recv(), sends nothing
    with contextlib.suppress(OSError):
        sock.close()
