"""A TCP proxy in front of Redis that loses a command's reply, for tests.

Real sockets, no mocks: the servers under test reach Redis through
:class:`RedisCutProxy`. Once :meth:`RedisCutProxy.arm`-ed, the next
connection that sends one of the given commands (``XADD``, or the
``EVALSHA`` of a script that appends, on a given key) is forwarded as
usual until Redis answers it; then the answer is dropped and both ends are
closed (or reset). Redis has run the command; its client sees "Connection
closed by server" (or "Connection reset by peer") and cannot tell whether
it ran. Optionally, new connections are refused for a while afterwards, so
that retries fail too. :meth:`RedisCutProxy.outage` cuts every connection
and refuses new ones for a while: Redis is away for those processes only.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

__all__ = ["RedisCutProxy"]


class RedisCutProxy:
    """Forwards ``127.0.0.1:<port>`` to Redis on ``127.0.0.1:<target_port>``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        self._armed: tuple[list[bytes], bytes] | None = None
        self._down_for = 0.0
        self._reset = False
        self._down_until = 0.0
        #: Set once an armed cut happened.
        self.cut_done = threading.Event()
        #: When it happened (time.monotonic()).
        self.cut_at = 0.0
        #: Connections refused while down.
        self.refused = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisCutProxy:
        threading.Thread(target=self._accept, name="redis-cut-proxy", daemon=True).start()
        return self

    def arm(
        self,
        commands: tuple[str, ...] = ("XADD",),
        key: str = "",
        down: float = 0.0,
        reset: bool = False,
    ) -> None:
        """Cut the next connection that sends one of ``commands`` naming ``key``,
        once Redis has answered it.

        Args:
            commands: Redis command names (``XADD``, ``EVALSHA``...).
            key: a key the command must name (any, if empty).
            down: seconds during which new connections are refused afterwards.
            reset: reset the connection (RST) instead of closing it (FIN).
        """
        self.cut_done.clear()
        self._down_for = down
        self._reset = reset
        names = [f"\r\n{command.upper()}\r\n".encode() for command in commands]
        self._armed = (names, key.encode())

    def outage(self, seconds: float) -> None:
        """Reset every connection now and refuse new ones for ``seconds``: Redis
        is gone for the processes behind this proxy, and only for them."""
        self._down_until = time.monotonic() + seconds
        with self._lock:
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            _reset(sock)

    @staticmethod
    def _matches(armed: tuple[list[bytes], bytes], data: bytes) -> bool:
        names, key = armed
        upper = data.upper()
        return any(name in upper for name in names) and key in data

    def close(self) -> None:
        self._closed = True
        with self._lock:
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            _reset(sock)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if time.monotonic() < self._down_until:
                self.refused += 1
                _reset(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, server))
            doomed = threading.Event()
            threading.Thread(
                target=self._upstream, args=(client, server, doomed), daemon=True
            ).start()
            threading.Thread(
                target=self._downstream, args=(server, client, doomed), daemon=True
            ).start()

    def _upstream(
        self, client: socket.socket, server: socket.socket, doomed: threading.Event
    ) -> None:
        try:
            while data := client.recv(65536):
                armed = self._armed
                if armed is not None and self._matches(armed, data):
                    with self._lock:
                        if self._armed is armed:
                            self._armed = None
                            # Redis's next answer on this connection is lost.
                            doomed.set()
                server.sendall(data)
        except OSError:
            pass
        self._drop(client, server)

    def _downstream(
        self, server: socket.socket, client: socket.socket, doomed: threading.Event
    ) -> None:
        try:
            while data := server.recv(65536):
                if doomed.is_set():
                    self._down_until = time.monotonic() + self._down_for
                    self.cut_at = time.monotonic()
                    if self._reset:
                        self._drop(client, server)
                    else:
                        self._close(client, server)
                    self.cut_done.set()
                    return
                client.sendall(data)
        except OSError:
            pass
        self._drop(client, server)

    def _close(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(socks)
        for sock in socks:
            _close(sock)

    def _drop(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(socks)
        for sock in socks:
            _reset(sock)


def _close(sock: socket.socket) -> None:
    """Close in order (FIN): the peer reads the end of the stream."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset: the peer sees the connection fail."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()
