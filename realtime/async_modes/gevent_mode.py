"""The gevent async mode: greenlets and gevent's ``pywsgi`` server."""

from __future__ import annotations

import importlib
import logging
import queue
import socket
from collections.abc import Callable
from types import ModuleType
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.monkey
import gevent.pywsgi
import gevent.queue
import gevent.socket
import greenlet

from realtime.async_modes.base import (
    EmbeddedServer,
    Event,
    HandedOverSocket,
    HangupWatch,
    Lock,
    Queue,
    ServerOptions,
    Task,
    WSGIApp,
    finish_nothing,
    no_delay,
    peer_closed,
    peer_gone,
)
from realtime.async_modes.green import GreenMode, GreenWorkers
from realtime.exceptions import ConfigurationError

__all__ = ["GeventMode"]

logger = logging.getLogger("realtime.server")
access_logger = logging.getLogger("realtime.access")


class _Queue:
    def __init__(self) -> None:
        self._q: Any = gevent.queue.Queue()

    def put(self, item: Any) -> None:
        self._q.put(item)

    def get(self, timeout: float | None = None) -> Any:
        try:
            return self._q.get(timeout=timeout)
        except gevent.queue.Empty:
            raise queue.Empty from None


class _Lock:
    def __init__(self) -> None:
        self._sem = gevent.lock.Semaphore(1)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        ok: bool = self._sem.acquire(blocking, None if timeout < 0 else timeout)
        return ok

    def release(self) -> None:
        self._sem.release()

    def __enter__(self) -> _Lock:
        self._sem.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sem.release()


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._timeout = gevent.Timeout(seconds, TimeoutError("deadline passed"))

    def __enter__(self) -> None:
        self._timeout.start()

    def __exit__(self, *exc: object) -> None:
        self._timeout.close()


class GeventMode(GreenMode):
    """Greenlets from gevent and its ``pywsgi`` WSGI server."""

    name = "gevent"

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        task: Task = gevent.spawn(fn, *args, **kwargs)
        return task

    def _current_hub(self) -> Any:
        return gevent.get_hub()

    def _new_workers(self, hub: Any) -> GreenWorkers:
        return GreenWorkers(
            hub.switch,
            lambda fn: greenlet.greenlet(fn, hub),
            greenlet.getcurrent,
            hub.loop.run_callback,
        )

    def sleep(self, seconds: float) -> None:
        gevent.sleep(seconds)

    def event(self) -> Event:
        return gevent.event.Event()  # type: ignore[no-any-return]

    def lock(self) -> Lock:
        return _Lock()

    def queue(self) -> Queue:
        return _Queue()

    def deadline(self, seconds: float) -> _Deadline:
        return _Deadline(seconds)

    def import_blocking(self, name: str) -> ModuleType:
        if not gevent.monkey.is_module_patched("socket"):
            raise ConfigurationError(
                f"{name} does blocking network I/O; in gevent mode it needs the process "
                "monkey patched: call gevent.monkey.patch_all() first thing in your program "
                "(gunicorn's gevent worker does it for you)"
            )
        return importlib.import_module(name)

    def make_server(
        self, app: WSGIApp, host: str, port: int, options: ServerOptions
    ) -> EmbeddedServer:
        return _GeventServer(app, host, port, options)

    def wrong_context(self) -> str | None:
        if gevent.getcurrent() is not gevent.get_hub().parent:
            return None
        return (
            "async_mode is 'gevent' but this request is running outside gevent's "
            "greenlets: the WSGI server is not gevent's. Set async_mode to match the "
            "server (for gunicorn: gthread or sync workers -> 'threading')"
        )

    def can_hand_over(self, environ: dict[str, Any]) -> bool:
        return (
            "realtime.gevent_handler" in environ
            or super().can_hand_over(environ)
            or _socket_of_foreign_pywsgi(environ) is not None
        )

    def request_socket(self, environ: dict[str, Any]) -> socket.socket | None:
        sock = super().request_socket(environ)
        if sock is not None:
            return sock
        handler = environ.get("realtime.gevent_handler")
        if handler is not None:
            return handler.socket  # type: ignore[no-any-return]
        return _socket_of_foreign_pywsgi(environ)  # type: ignore[no-any-return]

    def watch_hangup(self, sock: socket.socket, on_hangup: Callable[[], None]) -> HangupWatch:
        return _GreenHangupWatch(self.raw_socket(sock), on_hangup)

    def hand_over_socket(self, environ: dict[str, Any]) -> HandedOverSocket | None:
        handed = super().hand_over_socket(environ)
        if handed is not None:
            return handed
        handler = environ.get("realtime.gevent_handler")
        if handler is not None:
            sock = handler.socket
            handler.close_connection = True
        else:
            sock = _socket_of_foreign_pywsgi(environ)
            if sock is None:
                return None
        return HandedOverSocket(sock, self.raw_socket(sock), finish_nothing)

    def raw_socket(self, sock: socket.socket) -> socket.socket:
        return getattr(sock, "_sock", sock)


class _GreenHangupWatch:
    """A greenlet waiting for a socket to become readable, then peeking."""

    def __init__(self, raw: socket.socket, on_hangup: Callable[[], None]) -> None:
        self._fired = False
        self._greenlet = gevent.spawn(self._watch, raw, on_hangup)

    def _watch(self, raw: socket.socket, on_hangup: Callable[[], None]) -> None:
        gevent.socket.wait_read(raw.fileno())
        if peer_closed(raw):
            self._fired = True
            on_hangup()

    def cancel(self) -> None:
        if self._fired:
            self._greenlet.join()  # let the callback finish; never interrupt it
        else:
            self._greenlet.kill(block=True)


def _socket_of_foreign_pywsgi(environ: dict[str, Any]) -> Any:
    """The client socket of a pywsgi server that is not ours, if reachable."""
    if not str(environ.get("SERVER_SOFTWARE", "")).startswith("gevent"):
        return None
    stream = getattr(environ.get("wsgi.input"), "rfile", None)
    raw = getattr(stream, "raw", None)
    return getattr(raw, "_sock", None)


class _HeadTimeout(Exception):
    pass


class _Handler(gevent.pywsgi.WSGIHandler):  # type: ignore[misc]
    """pywsgi's handler with a deadline on the request head and socket access.

    A client gone mid-exchange is a DEBUG line: pywsgi would print a
    traceback for a reset while it reads the request head, and another when
    the 400 it then answers cannot be written.
    """

    http_timeout = 60.0
    _head_timer: Any = None
    #: Every socket error goes to :meth:`handle_error`, which tells a client
    #: gone from the rest (pywsgi would pass over a reset or a broken pipe
    #: in silence, and print a traceback for any other).
    ignored_socket_errors = ()

    def handle(self) -> None:
        if self.socket is not None:
            self.socket.settimeout(self.http_timeout)
            no_delay(self.socket)
        try:
            super().handle()
        except OSError as exc:
            # Writing an error response (a 400 for a head cut short) failed.
            if not peer_gone(exc):
                raise
            self._client_gone(exc)

    def _client_gone(self, exc: BaseException) -> None:
        self.close_connection = True
        logger.debug(
            "client %s gone mid-request: %s: %s", self.client_address, type(exc).__name__, exc
        )

    def _handle_client_error(self, ex: BaseException) -> Any:
        # The request head could not be read.
        if peer_gone(ex):
            self._client_gone(ex)
            return None  # nothing to answer
        return super()._handle_client_error(ex)

    def handle_error(self, t: Any, v: BaseException, tb: Any) -> None:
        # While the application ran or its response was written: the client's
        # socket must say it is gone too, since the application's own
        # connection to some backend may be what was reset.
        sock: Any = self.socket
        if peer_gone(v) and (sock is None or peer_closed(getattr(sock, "_sock", sock))):
            self._client_gone(v)
            return
        super().handle_error(t, v, tb)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.close()
            self._head_timer = None

    def read_requestline(self) -> Any:
        self._head_timer = gevent.Timeout.start_new(self.http_timeout, _HeadTimeout())
        try:
            line = super().read_requestline()
        except _HeadTimeout:
            self._head_timer = None
            raise TimeoutError("request line not received in time") from None
        if not line or len(line) >= gevent.pywsgi.MAX_REQUEST_LINE:
            self._cancel_head_timer()
        return line

    def read_request(self, raw_requestline: Any) -> Any:
        try:
            return super().read_request(raw_requestline)
        except _HeadTimeout:
            self._head_timer = None
            raise ValueError("request head not received in time") from None
        finally:
            self._cancel_head_timer()

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ["realtime.gevent_handler"] = self
        return environ

    def log_request(self) -> None:
        if self.server.realtime_log_output:
            access_logger.info(self.format_request())


class _ErrorLog:
    def write(self, message: str) -> None:
        message = message.rstrip()
        if message:
            logger.error("http server: %s", message)

    def flush(self) -> None:
        pass


class _GeventServer(EmbeddedServer):
    def __init__(self, app: WSGIApp, host: str, port: int, options: ServerOptions) -> None:
        handler = type("Handler", (_Handler,), {"http_timeout": options.http_timeout})
        self._server = gevent.pywsgi.WSGIServer(
            (host, port),
            app,
            backlog=options.backlog,
            handler_class=handler,
            log=None,
            error_log=_ErrorLog(),
        )
        self._server.realtime_log_output = options.log_output
        self._server.init_socket()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        gevent.spawn(self._server.stop, 1)
