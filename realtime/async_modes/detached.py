"""Sockets served with no task of their own once a WebSocket is open.

A :class:`DetachableSocket` is a handed-over socket that a watcher of its
async mode (an io watcher of gevent's loop, the threading mode's watcher
thread) reports readable, so that an idle WebSocket holds no green thread or
thread; the server that handed it over leaves it open and keeps it in a
:class:`DetachedSet`, which it ends when it stops. eventlet's hub-served
sockets have their own class (:mod:`realtime.async_modes.eventlet_mode`).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from realtime.async_modes.base import HandedOverSocket, StartResponse

__all__ = ["DetachableSocket", "DetachedSet", "is_tls", "release_server_objects"]


def is_tls(sock: object) -> bool:
    """Whether ``sock`` is a TLS socket (the standard library's, or gevent's).

    Bytes it decrypted may wait in the TLS layer while its descriptor reads
    as idle, so a TLS socket is never served from a watcher of the descriptor.
    """
    # ssl as already imported: no TLS socket exists without it.
    ssl = sys.modules.get("ssl")
    if ssl is not None and isinstance(sock, ssl.SSLSocket):
        return True
    return any(cls.__name__ == "SSLSocket" for cls in type(sock).__mro__)


class _NoBody:
    """The request body of a WebSocket handshake, once its socket is taken over."""

    def read(self, size: int = -1) -> bytes:
        return b""

    def readline(self, size: int = -1) -> bytes:
        return b""

    def readlines(self, hint: int = -1) -> list[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        pass


_NO_BODY = _NoBody()


def release_server_objects(environ: dict[str, Any], *keys: str) -> None:
    """Make a handed-over request's environ hold none of its server's objects.

    The session keeps the environ for as long as it lives (handlers see it as
    ``request.environ``), but the server's buffered reader behind
    ``wsgi.input`` (8 KiB or more) and the objects under ``keys`` (its
    request handler, say) serve only the HTTP exchange that is over.
    """
    environ["wsgi.input"] = _NO_BODY
    for key in keys:
        environ.pop(key, None)


class DetachedSet:
    """The detached connections of one server, ended together when it stops.

    Safe to use from any thread or green thread: its sections never block.
    """

    def __init__(self) -> None:
        self._members: set[DetachableSocket] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._members)

    def add(self, handed: DetachableSocket) -> None:
        with self._lock:
            self._members.add(handed)

    def discard(self, handed: DetachableSocket) -> None:
        with self._lock:
            self._members.discard(handed)

    def abort_all(self) -> int:
        """End every connection as one lost (a transport close); how many there were."""
        with self._lock:
            members = list(self._members)
        for handed in members:
            handed.abort()
        return len(members)


class DetachableSocket(HandedOverSocket):
    """A handed-over socket that a watcher of its mode can serve once detached.

    What gevent's io watchers and the threading mode's watcher thread share
    (eventlet's hub listeners have their own class): the callbacks, the
    readiness kept between reads, the registration with the server, closing.
    A subclass watches the descriptor in :meth:`resume` and stops in
    :meth:`pause` and :meth:`_unwatch`, and calls :meth:`_reported_readable`
    when the watcher reports the socket readable.

    As with eventlet's, a read that returned less than asked drained the
    socket, as far as we know: the next waits for the watcher rather than
    failing with ``EAGAIN`` (the watchers are level triggered, so nothing is
    missed).

    Args:
        leave_open: tells the server to leave the socket open when the
            request ends; returns the set of detached connections the server
            ends when it stops.
    """

    detachable = True

    def __init__(
        self,
        sock: socket.socket,
        raw: socket.socket,
        finish: Callable[[StartResponse], Iterable[bytes]],
        leave_open: Callable[[DetachableSocket], DetachedSet],
    ) -> None:
        super().__init__(sock, raw, finish)
        self._leave_open = leave_open
        self._ready = True
        self._on_readable_cb: Callable[[], None] | None = None
        self._on_abort: Callable[[], None] | None = None
        self._closed = False
        self._detached: DetachedSet | None = None

    def detach(self, on_readable: Callable[[], None], on_abort: Callable[[], None]) -> None:
        self._on_readable_cb = on_readable
        self._on_abort = on_abort
        detached = self._leave_open(self)
        detached.add(self)
        self._detached = detached

    def _reported_readable(self) -> None:
        self._ready = True
        callback = self._on_readable_cb
        if callback is not None:
            callback()

    def _unwatch(self) -> None:
        """Stop watching the descriptor for good (it is about to be closed)."""

    def recv_nowait(self, size: int) -> bytes | None:
        if not self._ready:
            return None
        try:
            data = self.raw.recv(size, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            self._ready = False
            return None
        if len(data) < size:
            self._ready = False
        return data

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unwatch()
        if self._detached is not None:
            self._detached.discard(self)
        self._on_readable_cb = self._on_abort = None
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self._close_descriptor()

    def _close_descriptor(self) -> None:
        """Close the socket (shut down already)."""
        with contextlib.suppress(OSError):
            self.sock.close()

    def abort(self) -> None:
        """The server is stopping: end the connection as a lost one."""
        on_abort = self._on_abort
        if on_abort is not None:
            on_abort()
        self.close()

    def finish(self, start_response: StartResponse) -> Iterable[bytes]:
        if self._detached is None:
            return super().finish(start_response)
        # Detached: the connection outlives the request.
        return self._finish(start_response)
