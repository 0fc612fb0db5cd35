"""The threading async mode: OS threads, and werkzeug's threaded WSGI server.

Handlers run on an elastic pool of threads that are reused while warm, so a
busy server does not create a thread per message.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from realtime.async_modes.base import (
    AsyncMode,
    EmbeddedServer,
    Event,
    HangupWatch,
    Lock,
    Queue,
    ServerOptions,
    Task,
    WSGIApp,
    no_delay,
    peer_closed,
    peer_gone,
    peer_left,
)

__all__ = ["ThreadingMode"]

logger = logging.getLogger("realtime.server")
access_logger = logging.getLogger("realtime.access")


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

    def stop(self) -> None:
        threading.Thread(target=self._server.shutdown, daemon=True).start()
