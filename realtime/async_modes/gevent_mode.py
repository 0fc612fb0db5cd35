"""The gevent async mode: greenlets, gevent's ``pywsgi`` server, and sockets handed over.

On realtime's embedded server (pywsgi) and under gunicorn's gevent worker an
open WebSocket holds no greenlet: an io watcher of gevent's loop reports its
socket readable, and a pooled worker reads it (:class:`_WatchedSocket`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import queue
import signal
import socket
from collections.abc import Callable, Iterable
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
    StartResponse,
    Task,
    WSGIApp,
    finish_gunicorn,
    finish_nothing,
    no_delay,
    peer_closed,
    peer_gone,
)
from realtime.async_modes.detached import (
    DetachableSocket,
    DetachedSet,
    is_tls,
    release_server_objects,
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

    def __init__(self) -> None:
        super().__init__()
        # The connections detached in a gunicorn worker (one hub per worker).
        self._gunicorn_detached: _GunicornDetached | None = None

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        task: Task = gevent.spawn(fn, *args, **kwargs)
        return task

    #: The hub of the calling OS thread: gevent's function itself, asked on
    #: every submit (a method around it was a call more each time).
    _current_hub = staticmethod(gevent.get_hub)

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

    def run_in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return gevent.get_hub().threadpool.apply(fn, args)

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
        handler = environ.get("realtime.gevent_handler")
        if handler is not None:
            # realtime's embedded server: can leave the socket open.
            handler.close_connection = True
            release_server_objects(environ, "realtime.gevent_handler")
            return _WatchedSocket(handler.socket, finish_nothing, handler.leave_open)
        sock = environ.get("gunicorn.socket")
        if sock is not None and hasattr(sock, "_sock") and not is_tls(sock):
            # gunicorn's gevent worker closes its socket when the request
            # ends (no shutdown, no read): the connection lives on in a
            # duplicate of it.
            release_server_objects(environ, "gunicorn.socket")
            return _WatchedSocket(sock.dup(), finish_gunicorn, self._gunicorn_leave_open)
        handed = super().hand_over_socket(environ)
        if handed is not None:
            return handed
        sock = _socket_of_foreign_pywsgi(environ)
        if sock is None:
            return None
        return HandedOverSocket(sock, self.raw_socket(sock), finish_nothing)

    def _gunicorn_leave_open(self, handed: DetachableSocket) -> DetachedSet:
        # gunicorn closes its socket when the request ends, with no shutdown:
        # the duplicate the connection lives on in keeps it open.
        if self._gunicorn_detached is None:
            self._gunicorn_detached = _GunicornDetached()
        return self._gunicorn_detached

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


class _GunicornDetached(DetachedSet):
    """The connections detached in a gunicorn gevent worker, ended when it stops.

    gunicorn tells nothing of ours that its worker stops. A graceful stop
    (``SIGTERM``) or a quick one (``SIGINT``, ``SIGQUIT``) is heard by
    chaining gunicorn's signal handlers: the connections end at once, as
    transport closes, and the worker exits once its requests are done,
    rather than wait ``--graceful-timeout`` for WebSockets that never end on
    their own (the master kills the worker then, before any disconnect
    handler could run). For a worker that stops by itself (``max_requests``)
    one request greenlet stays in gunicorn's pool while any connection is
    detached (:meth:`hold`): gunicorn waits for it, then kills it, which ends
    the connections.
    """

    def __init__(self) -> None:
        super().__init__()
        self._holder: Any = None
        self._emptied = gevent.event.Event()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            previous = signal.getsignal(signum)
            if callable(previous):
                with contextlib.suppress(ValueError, OSError):  # not the main thread
                    signal.signal(signum, functools.partial(self._stopping, previous))

    def _stopping(self, previous: Callable[[int, Any], Any], signum: int, frame: Any) -> None:
        # In a signal handler: the connections end on the hub's next turn.
        gevent.spawn(self._end_all)
        previous(signum, frame)

    def _end_all(self) -> None:
        if self.abort_all():
            gevent.sleep(0)  # the disconnect handlers just submitted start

    def add(self, handed: DetachableSocket) -> None:
        super().add(handed)
        self._emptied.clear()

    def discard(self, handed: DetachableSocket) -> None:
        super().discard(handed)
        if not len(self):
            self._emptied.set()

    def hold(self) -> None:
        """Keep the calling request greenlet while connections are detached,
        unless another does; killed, end them all."""
        if self._holder is not None:
            return
        self._holder = gevent.getcurrent()
        try:
            while len(self):
                self._emptied.wait()
        except gevent.GreenletExit:
            if self.abort_all():
                gevent.sleep(0)  # the disconnect handlers just submitted start
        finally:
            self._holder = None


class _WatchedSocket(DetachableSocket):
    """A handed-over socket that gevent's hub serves with no greenlet of its own.

    Once :meth:`detached <HandedOverSocket.detach>`, an io watcher of the
    hub's loop (``loop.io(fd, READ)``) calls back on the hub whenever the
    socket is readable, and the request's greenlet ends: an idle WebSocket
    costs a watcher, not a greenlet and its stack. A socket that turns
    readable while its reader is busy elsewhere is not watched until the
    next :meth:`resume`, so the hub does not spin.
    """

    def __init__(
        self,
        sock: socket.socket,
        finish: Callable[[StartResponse], Iterable[bytes]],
        leave_open: Callable[[DetachableSocket], DetachedSet],
    ) -> None:
        super().__init__(sock, getattr(sock, "_sock", sock), finish, leave_open)
        self._loop: Any = gevent.get_hub().loop
        self._watcher: Any = None

    def resume(self) -> None:
        if self._closed:
            return
        watcher = self._watcher
        if watcher is None:
            watcher = self._watcher = self._loop.io(self.raw.fileno(), 1)
        if not watcher.active:
            watcher.start(self._reported_readable)

    def pause(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()

    def _unwatch(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
            watcher.close()

    def finish(self, start_response: StartResponse) -> Iterable[bytes]:
        detached = self._detached
        if isinstance(detached, _GunicornDetached):
            detached.hold()
        return super().finish(start_response)


def _socket_of_foreign_pywsgi(environ: dict[str, Any]) -> Any:
    """The client socket of a pywsgi server that is not ours, if reachable."""
    if not str(environ.get("SERVER_SOFTWARE", "")).startswith("gevent"):
        return None
    stream = getattr(environ.get("wsgi.input"), "rfile", None)
    raw = getattr(stream, "raw", None)
    return getattr(raw, "_sock", None)


class _HeadTimeout(Exception):
    pass


class _LeftOpen:
    """Stands in for a detached socket where pywsgi would read it and close it."""

    def close(self) -> None:
        pass


_LEFT_OPEN = _LeftOpen()


class _Handler(gevent.pywsgi.WSGIHandler):  # type: ignore[misc]
    """pywsgi's handler with a deadline on the request head and socket access.

    A client gone mid-exchange is a DEBUG line: pywsgi would print a
    traceback for a reset while it reads the request head, and another when
    the 400 it then answers cannot be written.
    """

    http_timeout = 60.0
    _head_timer: Any = None
    socket: Any
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
        if sock is _LEFT_OPEN:
            # Detached: the connection is served elsewhere; write nothing.
            self._log_error(t, v, tb)
            return
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

    def leave_open(self, handed: DetachableSocket) -> DetachedSet:
        """Keep the request's socket open after the request: ``handed`` serves it.

        pywsgi neither reads what the socket holds nor closes it when the
        request ends (it would do both), nor does the server; the server
        ends the connection when it stops. Returns the server's detached
        connections.
        """
        server: _WSGIServer = self.server
        server.left_open.add(self.socket)
        self.socket = _LEFT_OPEN
        self.close_connection = True
        with contextlib.suppress(Exception):
            self.rfile.close()  # its buffer; the request is over
        return server.detached

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


class _WSGIServer(gevent.pywsgi.WSGIServer):  # type: ignore[misc]
    """pywsgi's server, leaving open the sockets of detached WebSockets."""

    realtime_log_output = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Client sockets whose request ended but whose connection goes on.
        self.left_open: set[Any] = set()
        self.detached = DetachedSet()

    def do_close(self, sock: Any, *args: Any) -> None:
        if sock in self.left_open:
            self.left_open.discard(sock)
            return
        super().do_close(sock, *args)


class _GeventServer(EmbeddedServer):
    def __init__(self, app: WSGIApp, host: str, port: int, options: ServerOptions) -> None:
        handler = type("Handler", (_Handler,), {"http_timeout": options.http_timeout})
        self._server = _WSGIServer(
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
        try:
            self._server.serve_forever()
        finally:
            # Detached WebSockets end with the server, as transport closes;
            # the disconnect handlers that submitted start before the hub goes.
            if self._server.detached.abort_all():
                gevent.sleep(0)

    def stop(self) -> None:
        gevent.spawn(self._server.stop, 1)
