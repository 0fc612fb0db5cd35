"""The threading async mode: OS threads, and werkzeug's threaded WSGI server.

Handlers run on an elastic pool of threads that are reused while warm, so a
busy server does not create a thread per message. On realtime's embedded
server an open WebSocket holds no thread either: one watcher thread waits
for every detached socket to turn readable (epoll), and a pooled thread
reads it (:class:`_ThreadWatchedSocket`).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import selectors
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from realtime.async_modes.base import (
    AsyncMode,
    EmbeddedServer,
    Event,
    HandedOverSocket,
    HangupWatch,
    Lock,
    Queue,
    ServerOptions,
    Task,
    WSGIApp,
    finish_werkzeug,
    no_delay,
    peer_closed,
    peer_gone,
    peer_left,
)
from realtime.async_modes.detached import DetachableSocket, DetachedSet, release_server_objects

__all__ = ["ThreadingMode"]

logger = logging.getLogger("realtime.server")
access_logger = logging.getLogger("realtime.access")

#: The environ key of a weak reference to the embedded server's request handler.
_HANDLER_KEY = "realtime.threading_handler"


class _Queue:
    def __init__(self) -> None:
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def put(self, item: Any) -> None:
        self._q.put(item)

    def get(self, timeout: float | None = None) -> Any:
        return self._q.get(timeout=timeout)


class _Thread:
    def __init__(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        self._thread = threading.Thread(target=fn, args=args, kwargs=kwargs, daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class _ElasticPool:
    """Threads that run submitted calls and wait for more while idle.

    A call goes to an idle worker when there is one and to a new thread when
    there is not, so a handler that blocks never starves the others. Workers
    idle for ``idle_timeout`` seconds exit.
    """

    def __init__(self, idle_timeout: float = 30.0) -> None:
        self._tasks: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._idle = 0
        self._idle_timeout = idle_timeout

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        with self._lock:
            reuse = self._idle > 0
            if reuse:
                self._idle -= 1
        self._tasks.put((fn, args))
        if not reuse:
            threading.Thread(target=self._work, daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                fn, args = self._tasks.get(timeout=self._idle_timeout)
            except queue.Empty:
                with self._lock:
                    # An idle slot nobody reserved: this worker may retire.
                    # With none left, a submit counted on this worker.
                    if self._idle > 0:
                        self._idle -= 1
                        return
                continue
            try:
                fn(*args)
            except Exception:
                logger.exception("unhandled error in a background task")
            with self._lock:
                self._idle += 1


class ThreadingMode(AsyncMode):
    """Threads, locks and werkzeug's threaded server."""

    name = "threading"

    def __init__(self) -> None:
        self._pool = _ElasticPool()
        self._hangups: _HangupSelector | None = None
        self._hangup_lock = threading.Lock()
        self._readable: _ReadableWatcher | None = None

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        return _Thread(fn, args, kwargs)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._pool.submit(fn, args)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def event(self) -> Event:
        return threading.Event()

    def lock(self) -> Lock:
        return threading.Lock()

    def queue(self) -> Queue:
        return _Queue()

    def make_server(
        self, app: WSGIApp, host: str, port: int, options: ServerOptions
    ) -> EmbeddedServer:
        return _WerkzeugServer(app, host, port, options)

    def watch_hangup(self, sock: socket.socket, on_hangup: Callable[[], None]) -> HangupWatch:
        with self._hangup_lock:
            if self._hangups is None:
                self._hangups = _HangupSelector()
        return self._hangups.watch(sock, on_hangup)

    def hand_over_socket(self, environ: dict[str, Any]) -> HandedOverSocket | None:
        reference = environ.pop(_HANDLER_KEY, None)
        handler: _Handler | None = reference() if reference is not None else None
        if handler is None or not hasattr(select, "epoll"):
            return super().hand_over_socket(environ)
        # realtime's embedded server: can leave the socket open.
        with self._hangup_lock:
            if self._readable is None:
                self._readable = _ReadableWatcher()
        release_server_objects(environ)
        return _ThreadWatchedSocket(
            handler.connection, finish_werkzeug, handler.leave_open, self._readable
        )


class _HangupSelector:
    """One thread watching every waiting long poll's socket for the client's end.

    Sockets are registered while their request waits; the selector blocks
    until one turns readable (no polling loop), and a socket pair wakes it
    when the set changes.
    """

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        threading.Thread(target=self._run, name="realtime-hangups", daemon=True).start()

    def watch(self, sock: socket.socket, on_hangup: Callable[[], None]) -> HangupWatch:
        watch = _ThreadHangupWatch(self, sock, on_hangup)
        with self._lock:
            try:
                self._selector.register(sock, selectors.EVENT_READ, watch)
            except (KeyError, ValueError, OSError):
                return watch  # already watched, or already closed
        self._wake()
        return watch

    def forget(self, sock: socket.socket) -> None:
        with self._lock, contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(sock)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        while True:
            events = self._selector.select()
            fired: list[_ThreadHangupWatch] = []
            for key, _ in events:
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                watch: _ThreadHangupWatch = key.data
                with self._lock, contextlib.suppress(KeyError, ValueError, OSError):
                    self._selector.unregister(key.fileobj)
                if peer_closed(watch.sock):
                    fired.append(watch)
            for watch in fired:
                watch.fire()


class _ThreadHangupWatch:
    def __init__(
        self, selector: _HangupSelector, sock: socket.socket, on_hangup: Callable[[], None]
    ) -> None:
        self._selector = selector
        self.sock = sock
        self._on_hangup = on_hangup

    def fire(self) -> None:
        try:
            self._on_hangup()
        except Exception:
            logger.exception("error while closing a session whose client hung up")

    def cancel(self) -> None:
        self._selector.forget(self.sock)


class _ReadableWatcher:
    """One thread reporting detached sockets readable, once per arming.

    Sockets are registered with epoll disarmed (``EPOLLONESHOT``);
    :meth:`arm` asks for one report, which comes on this thread. The kernel
    disarms the socket as it reports it, so a socket being read is never
    reported again until its reader arms it, and registering and arming from
    other threads needs no wake-up (``epoll_ctl`` acts on a waiting
    ``epoll_wait``).
    """

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._watched: dict[int, _ThreadWatchedSocket] = {}
        threading.Thread(target=self._run, name="realtime-websockets", daemon=True).start()

    def add(self, handed: _ThreadWatchedSocket) -> None:
        self._watched[handed.fd] = handed
        with contextlib.suppress(OSError):
            self._epoll.register(handed.fd, select.EPOLLONESHOT)

    def arm(self, handed: _ThreadWatchedSocket) -> None:
        handed.armed = True
        with contextlib.suppress(OSError):
            self._epoll.modify(handed.fd, select.EPOLLIN | select.EPOLLONESHOT)

    def remove(self, handed: _ThreadWatchedSocket) -> None:
        """Stop watching ``handed``; before its descriptor is closed."""
        if self._watched.get(handed.fd) is handed:
            del self._watched[handed.fd]
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(handed.fd)

    def _run(self) -> None:
        while True:
            for fd, _ in self._epoll.poll():
                handed = self._watched.get(fd)
                # Not armed: a report for a socket closed since (its number
                # may be another's now), or a hangup of a disarmed one.
                if handed is None or not handed.armed:
                    continue
                handed.armed = False
                try:
                    handed.reported_readable()
                except Exception:
                    logger.exception("error while reporting a websocket readable")


class _ThreadWatchedSocket(DetachableSocket):
    """A handed-over socket served with no thread of its own, once detached.

    The :class:`_ReadableWatcher`'s thread reports it readable once per
    :meth:`resume`; the callback hands the read to a pooled thread (see
    :class:`~realtime.engine.transports.websocket.detached_reader.DetachedReader`).
    """

    def __init__(
        self,
        sock: socket.socket,
        finish: Any,
        leave_open: Callable[[DetachableSocket], DetachedSet],
        watcher: _ReadableWatcher,
    ) -> None:
        super().__init__(sock, sock, finish, leave_open)
        self._watcher = watcher
        self.fd = sock.fileno()
        self.armed = False
        # The descriptor is closed once both the connection and the request
        # that handed it over are over: werkzeug still polls the socket as
        # the request ends, while a pooled thread may already read its end.
        self._lock = threading.Lock()
        self._request_over = False
        self._close_pending = False

    def request_ended(self) -> None:
        """The server is done with the request that handed the socket over."""
        with self._lock:
            self._request_over = True
            close_now = self._close_pending
        if close_now:
            super()._close_descriptor()

    def _close_descriptor(self) -> None:
        with self._lock:
            if not self._request_over:
                self._close_pending = True
                return
        super()._close_descriptor()

    def detach(self, on_readable: Callable[[], None], on_abort: Callable[[], None]) -> None:
        super().detach(on_readable, on_abort)
        self._watcher.add(self)

    def reported_readable(self) -> None:
        """On the watcher's thread: the socket is readable."""
        self._reported_readable()

    def resume(self) -> None:
        if not self._closed:
            self._watcher.arm(self)

    def pause(self) -> None:
        self.armed = False

    def _unwatch(self) -> None:
        self.armed = False
        self._watcher.remove(self)


class _Nowhere:
    """Stands in for the buffered reader and writer of a request handler whose
    socket a detached WebSocket took: reads nothing, writes nowhere."""

    closed = False

    def read(self, size: int = -1) -> bytes:
        return b""

    def readline(self, size: int = -1) -> bytes:
        return b""

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


_NOWHERE = _Nowhere()


class _DeadlineReader:
    """Wraps a handler's ``rfile`` so a request head must arrive in time.

    While a deadline is armed, every read gets only the time left before it;
    otherwise each read may wait ``idle`` seconds (a trickling body times out
    too).
    """

    def __init__(self, rfile: Any, sock: socket.socket, idle: float) -> None:
        self._rfile = rfile
        self._sock = sock
        self._idle = idle
        self.deadline: float | None = None

    def _arm(self) -> None:
        if self.deadline is None:
            self._sock.settimeout(self._idle)
            return
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request head not received in time")
        self._sock.settimeout(remaining)

    def readline(self, limit: int = -1) -> bytes:
        self._arm()
        line: bytes = self._rfile.readline(limit)
        return line

    def read(self, size: int = -1) -> bytes:
        self._arm()
        data: bytes = self._rfile.read(size)
        return data

    def readinto(self, buffer: Any) -> int:
        self._arm()
        count: int = self._rfile.readinto(buffer)
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rfile, name)


class _Handler(WSGIRequestHandler):
    server: _ThreadedServer

    def setup(self) -> None:
        super().setup()
        no_delay(self.connection)
        self.rfile = _DeadlineReader(  # type: ignore[assignment]
            self.rfile, self.connection, self.server.options.http_timeout
        )

    def handle_one_request(self) -> None:
        reader: _DeadlineReader = self.rfile  # type: ignore[assignment]
        reader.deadline = time.monotonic() + self.server.options.http_timeout
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            parsed = self.parse_request()
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        finally:
            reader.deadline = None
        if parsed:
            self.run_wsgi()

    def make_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().make_environ()
        # Weak: a polling session keeps its handshake's environ, not the
        # handler and its buffers.
        environ[_HANDLER_KEY] = weakref.ref(self)
        return environ

    def leave_open(self, handed: DetachableSocket) -> DetachedSet:
        """Keep the request's socket open after the request: ``handed`` serves it.

        werkzeug writes its response head and reads what the socket holds
        when the application returns, and the server shuts the socket down
        and closes it when the handler ends; here the head goes nowhere,
        nothing is read, and the server leaves the socket to ``handed``.
        Returns the server's detached connections.
        """
        self.server.left_open[self.connection] = handed
        self.close_connection = True
        for buffered in (self.rfile, self.wfile):
            with contextlib.suppress(Exception):
                buffered.close()
        self.rfile = self.wfile = _NOWHERE  # type: ignore[assignment]
        return self.server.detached

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.options.log_output:
            access_logger.info('%s "%s" %s %s', self.address_string(), self.requestline, code, size)

    def log_error(self, format: str, *args: Any) -> None:
        logger.debug("http server: " + format, *args)

    def connection_dropped(
        self, error: BaseException, environ: dict[str, Any] | None = None
    ) -> None:
        # werkzeug's name for any ConnectionError (or timeout) the request
        # ended with: a client gone is a DEBUG line, but one still there
        # means the application's own connection to some backend failed.
        if isinstance(error, ConnectionError) and not peer_left(self.connection):
            logger.error("error in WSGI application", exc_info=error)
            return
        logger.debug(
            "client %s gone mid-request: %s: %s", self.client_address, type(error).__name__, error
        )


class _ThreadedServer(ThreadedWSGIServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, app: WSGIApp, options: ServerOptions) -> None:
        self.options = options
        self.request_queue_size = options.backlog
        super().__init__(host, port, app, handler=_Handler)
        #: Client sockets a detached WebSocket took, while their request ends.
        self.left_open: dict[Any, DetachableSocket] = {}
        self.detached = DetachedSet()

    def shutdown_request(self, request: Any) -> None:
        handed = self.left_open.pop(request, None)
        if isinstance(handed, _ThreadWatchedSocket):
            handed.request_ended()
            return
        super().shutdown_request(request)

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.log(logging.ERROR if type == "error" else logging.DEBUG, message, *args)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints the traceback of what escaped the handler to
        # stderr; a client gone is not worth one.
        exc = sys.exc_info()[1]
        if exc is not None and peer_gone(exc):
            logger.debug("client %s gone: %s: %s", client_address, type(exc).__name__, exc)
            return
        super().handle_error(request, client_address)


class _WerkzeugServer(EmbeddedServer):
    def __init__(self, app: WSGIApp, host: str, port: int, options: ServerOptions) -> None:
        self._server = _ThreadedServer(host, port, app, options)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()
            # Detached WebSockets end with the server, as transport closes.
            self._server.detached.abort_all()

    def stop(self) -> None:
        threading.Thread(target=self._server.shutdown, daemon=True).start()
