"""An HTTP-aware TCP proxy on 127.0.0.1 that sends each request where a test says.

It plays the load balancer of a deployment with no sticky sessions, but
deterministically: :class:`RoutingProxy` reads the head of each request and
asks ``route(method, target, headers)`` which server port gets it. Plain
requests are sent with ``Connection: close``, so each connection carries
one request and the next one is routed afresh; a WebSocket upgrade keeps
its connection, which the proxy then pumps both ways. Real sockets, no
mocks: the servers see an ordinary client, the client an ordinary server.

:meth:`RoutingProxy.cut` resets every connection in place (the client sees
its transport fail), as a dropped network does.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable

__all__ = ["Route", "RoutingProxy"]

#: ``route(method, target, headers)``: the port of the server for a request
#: (``target`` is the path and query, ``headers`` lower-case names).
Route = Callable[[str, str, dict[str, str]], int]

_MAX_HEAD = 64 * 1024


class RoutingProxy:
    """Forwards each request on ``127.0.0.1:<port>`` to the port ``route`` picks."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        #: ``(method, target, port)`` of every request routed, in order.
        self.log: list[tuple[str, str, int]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RoutingProxy:
        threading.Thread(target=self._accept, name="routing-proxy", daemon=True).start()
        return self

    def cut(self) -> int:
        """Reset every connection in place; how many pairs were cut."""
        with self._lock:
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            _reset(sock)
        return len(doomed) // 2

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk or len(head) > _MAX_HEAD:
                    _reset(client)
                    return
                head += chunk
        except OSError:
            _reset(client)
            return
        header_bytes, _, rest = head.partition(b"\r\n\r\n")
        lines = header_bytes.decode("latin-1").split("\r\n")
        method, target, version = ([*lines[0].split(" ", 2), "", ""])[:3]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        upgrade = headers.get("upgrade", "").lower() == "websocket"
        try:
            port = self.route(method, target, headers)
        except Exception:
            _reset(client)
            return
        self.log.append((method, target, port))
        if not upgrade:
            kept = [line for line in lines[1:] if not line.lower().startswith("connection:")]
            lines = [f"{method} {target} {version}", *kept, "Connection: close"]
            header_bytes = "\r\n".join(lines).encode("latin-1")
        try:
            server = socket.create_connection(("127.0.0.1", port), timeout=5)
            server.settimeout(None)
            server.sendall(header_bytes + b"\r\n\r\n" + rest)
        except OSError:
            _reset(client)
            return
        pair = _Pair(client, server)
        with self._lock:
            if self._closed:
                pair.reset()
                return
            self._open.update(pair.socks)
        threading.Thread(target=self._pump, args=(pair, server, client), daemon=True).start()
        self._pump(pair, client, server)

    def _pump(self, pair: _Pair, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            # Reset, or cut: the other end sees its connection fail too.
            self._forget(pair)
            pair.reset()
            return
        # An orderly end of one direction: pass it on, the other may go on.
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        if pair.one_ended():
            self._forget(pair)
            for sock in pair.socks:
                with contextlib.suppress(OSError):
                    sock.close()

    def _forget(self, pair: _Pair) -> None:
        with self._lock:
            self._open.difference_update(pair.socks)


class _Pair:
    """A client's connection and the server connection it was routed to."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.socks = (client, server)
        self._ended = 0
        self._lock = threading.Lock()

    def one_ended(self) -> bool:
        """Count one direction as ended; True once both have."""
        with self._lock:
            self._ended += 1
            return self._ended == 2

    def reset(self) -> None:
        for sock in self.socks:
            _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (no FIN): the peer sees the connection fail."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()
