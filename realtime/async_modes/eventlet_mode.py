"""The eventlet async mode: green threads and ``eventlet.wsgi``.

Works without monkey patching: everything realtime waits on is green. An app
that does blocking I/O of its own (database drivers, HTTP clients) still needs
``eventlet.monkey_patch()`` at the top of its entry point.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import io
import itertools
import logging
import queue
import socket
import warnings
import weakref
from collections.abc import Callable
from types import ModuleType
from typing import Any

with warnings.catch_warnings():
    # eventlet announces its maintenance mode on import; the choice of mode
    # is the user's, the warning is noise to them.
    warnings.simplefilter("ignore")
    import eventlet
    import eventlet.greenthread
    import eventlet.hubs
    import eventlet.queue
    import eventlet.wsgi

import greenlet

from realtime.async_modes.base import (
    EmbeddedServer,
    Event,
    GreenMode,
    GreenWorkers,
    HandedOverSocket,
    HangupWatch,
    Lock,
    Queue,
    ServerOptions,
    Task,
    WSGIApp,
    no_delay,
    peer_closed,
)

__all__ = ["EventletMode"]

logger = logging.getLogger("realtime.server")
access_logger = logging.getLogger("realtime.access")


class _GreenLock:
    """A lock for green threads: a flag, and a queue only once someone waits.

    eventlet's own lock is a semaphore with a deque from the start, and every
    session holds several locks: this one costs a few dozen bytes and two
    attribute accesses when uncontended. Green threads switch only when they
    block, so testing and setting the flag is atomic. A release wakes the
    first waiter from the hub; a waiter that finds the lock taken again (by
    a thread that never waited) waits for the next release.
    """

    __slots__ = ("_locked", "_waiters")

    def __init__(self) -> None:
        self._locked = False
        self._waiters: collections.deque[Any] | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._locked:
            self._locked = True
            return True
        if not blocking:
            return False
        return self._wait(timeout)

    def _wait(self, timeout: float) -> bool:
        hub = eventlet.hubs.get_hub()
        current = greenlet.getcurrent()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = collections.deque()
        waiters.append(current)
        timer = (
            hub.schedule_call_global(timeout, current.switch, _TIMED_OUT) if timeout >= 0 else None
        )
        try:
            while self._locked:
                if hub.switch() is _TIMED_OUT:
                    return False
            self._locked = True
            return True
        finally:
            waiters.remove(current)
            if timer is not None:
                timer.cancel()

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        self._locked = False
        if self._waiters:
            eventlet.hubs.get_hub().schedule_call_global(0, self._wake)

    def _wake(self) -> None:
        # On the hub: hand the turn to the first waiter, if the lock is free.
        waiters = self._waiters
        if waiters and not self._locked:
            waiters[0].switch()

    def locked(self) -> bool:
        return self._locked

    def __enter__(self) -> bool:
        if not self._locked:
            self._locked = True
            return True
        return self._wait(-1)

    def __exit__(self, *exc: object) -> None:
        self.release()


class _GreenEvent:
    """``threading.Event`` for green threads, with no lock or condition inside.

    A thread woken by :meth:`set` returns True from :meth:`wait` even if the
    flag was cleared again before it ran, as with ``threading.Event``.
    """

    __slots__ = ("_flag", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[Any] | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        if self._flag:
            return
        self._flag = True
        if self._waiters:
            hub = eventlet.hubs.get_hub()
            for waiter in self._waiters:
                hub.schedule_call_global(0, self._wake, waiter)

    def clear(self) -> None:
        self._flag = False

    def _wake(self, waiter: Any) -> None:
        # On the hub; the waiter may have timed out (or been woken) meanwhile.
        waiters = self._waiters
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            waiter.switch(True)

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        if timeout is not None and timeout <= 0:
            return False
        hub = eventlet.hubs.get_hub()
        current = greenlet.getcurrent()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        waiters.append(current)
        timer = (
            hub.schedule_call_global(timeout, current.switch, False)
            if timeout is not None
            else None
        )
        try:
            # True from set(); anything else is the timeout.
            return hub.switch() is True or self._flag
        finally:
            if current in waiters:
                waiters.remove(current)
            if timer is not None:
                timer.cancel()


_TIMED_OUT = object()


class _Queue:
    def __init__(self) -> None:
        self._q: Any = eventlet.queue.LightQueue()

    def put(self, item: Any) -> None:
        self._q.put(item)

    def get(self, timeout: float | None = None) -> Any:
        try:
            return self._q.get(timeout=timeout)
        except eventlet.queue.Empty:
            raise queue.Empty from None


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._timer: Any = None

    def __enter__(self) -> None:
        self._timer = eventlet.Timeout(self._seconds, TimeoutError("deadline passed"))

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class EventletMode(GreenMode):
    """Green threads from eventlet and its WSGI server."""

    name = "eventlet"

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        thread: Task = eventlet.spawn(fn, *args, **kwargs)
        return _GreenTask(thread)

    def _current_hub(self) -> Any:
        return eventlet.hubs.get_hub()

    def _new_workers(self, hub: Any) -> GreenWorkers:
        def soon(fn: Callable[..., Any], *args: Any) -> None:
            hub.schedule_call_global(0, fn, *args)

        return GreenWorkers(
            hub.switch, lambda fn: greenlet.greenlet(fn, hub.greenlet), greenlet.getcurrent, soon
        )

    def sleep(self, seconds: float) -> None:
        eventlet.sleep(seconds)

    def event(self) -> Event:
        return _GreenEvent()

    def lock(self) -> Lock:
        return _GreenLock()

    def queue(self) -> Queue:
        return _Queue()

    def deadline(self, seconds: float) -> _Deadline:
        return _Deadline(seconds)

    def import_blocking(self, name: str) -> ModuleType:
        module: ModuleType = eventlet.import_patched(name)
        return module

    def make_server(
        self, app: WSGIApp, host: str, port: int, options: ServerOptions
    ) -> EmbeddedServer:
        return _EventletServer(app, host, port, options)

    def wrong_context(self) -> str | None:
        if isinstance(greenlet.getcurrent(), eventlet.greenthread.GreenThread):
            return None
        return (
            "async_mode is 'eventlet' but this request is not running in an eventlet "
            "green thread: the WSGI server is not eventlet's. Set async_mode to match "
            "the server (for gunicorn: gevent workers -> 'gevent', gthread or sync "
            "workers -> 'threading')"
        )

    def can_hand_over(self, environ: dict[str, Any]) -> bool:
        return "eventlet.input" in environ or super().can_hand_over(environ)

    def request_socket(self, environ: dict[str, Any]) -> socket.socket | None:
        if "gunicorn.socket" not in environ and "eventlet.input" in environ:
            sock: socket.socket = environ["eventlet.input"].get_socket()
            return sock
        return super().request_socket(environ)

    def watch_hangup(self, sock: socket.socket, on_hangup: Callable[[], None]) -> HangupWatch:
        return _GreenHangupWatch(self.raw_socket(sock), on_hangup)

    def hand_over_socket(self, environ: dict[str, Any]) -> HandedOverSocket | None:
        handed = super().hand_over_socket(environ)
        if handed is not None:
            return _GreenHandedOver(handed) if handed.raw.gettimeout() == 0 else handed
        if "eventlet.input" not in environ:
            return None
        stream = environ["eventlet.input"]
        sock = stream.get_socket()
        # eventlet.wsgi's buffered reader and writer (24 KiB together) would
        # live as long as the connection, held by the request's input and by
        # the protocol object, whose green thread serves the WebSocket; the
        # WebSocket never uses them. Closed stand-ins take their place (a
        # closed buffer keeps its memory until it is freed), and the socket
        # stays open.
        protocol = environ.pop(_PROTOCOL_KEY, None)
        # eventlet's set_idle closes over the protocol object, which would
        # then live as long as the environ (as long as the session).
        environ.pop("eventlet.set_idle", None)
        holders = (stream, protocol)
        for holder, attribute in itertools.product(holders, ("rfile", "wfile")):
            buffered = getattr(holder, attribute, None)
            if buffered is not None:
                with contextlib.suppress(Exception):
                    buffered.close()
                setattr(holder, attribute, _CLOSED)
        return _GreenHandedOver(
            HandedOverSocket(sock, self.raw_socket(sock), _finish_eventlet), protocol
        )

    def raw_socket(self, sock: socket.socket) -> socket.socket:
        return getattr(sock, "fd", sock)


class _GreenHangupWatch:
    """A green thread waiting for a socket to become readable, then peeking."""

    def __init__(self, raw: socket.socket, on_hangup: Callable[[], None]) -> None:
        self._fired = False
        self._thread = eventlet.spawn(self._watch, raw, on_hangup)

    def _watch(self, raw: socket.socket, on_hangup: Callable[[], None]) -> None:
        eventlet.hubs.trampoline(raw.fileno(), read=True)
        if peer_closed(raw):
            self._fired = True
            on_hangup()

    def cancel(self) -> None:
        if self._fired:
            self._thread.wait()  # let the callback finish; never interrupt it
        else:
            self._thread.kill()


class _GreenHandedOver(HandedOverSocket):
    """A handed-over socket whose reads keep it registered with the hub.

    A green socket's ``recv`` registers the socket with the hub each time it
    would block and unregisters it on waking: two ``epoll_ctl`` calls and a
    ``recv`` that fails with ``EAGAIN`` per message. Here the registration
    stays for the life of the WebSocket, and a read that returned less than
    asked waits for the hub's word before reading again (epoll is level
    triggered: bytes that came in meanwhile are reported at once).

    If the socket turns readable while its reader is busy elsewhere (a
    handler running inline, say), the registration is dropped until the next
    read, so that the hub does not spin on it.

    A socket taken from realtime's embedded server (``protocol`` given) can
    also be :meth:`detached <HandedOverSocket.detach>`: the hub then calls
    back when it is readable and no green thread waits on it, so an idle
    WebSocket holds no green thread (no stack) at all; the request's green
    thread ends, and eventlet.wsgi is told to leave the socket open.
    """

    def __init__(self, handed: HandedOverSocket, protocol: Any = None) -> None:
        super().__init__(
            handed.sock,
            handed.raw,
            handed._finish,
            server_closes=handed._server_closes,
        )
        self._hub: Any = eventlet.hubs.get_hub()
        self._fileno = handed.raw.fileno()
        self._listener: Any = None
        self._waiter: Any = None
        self._ready = True
        self._protocol = protocol
        self.detachable = protocol is not None
        self._on_readable_cb: Callable[[], None] | None = None
        self._on_abort: Callable[[], None] | None = None
        self._paused = False
        self._closed = False
        self._registry: weakref.WeakSet[_GreenHandedOver] | None = None

    def recv(self, size: int) -> bytes:
        raw = self.raw
        while True:
            if self._ready:
                try:
                    data = raw.recv(size)
                except (BlockingIOError, InterruptedError):
                    self._ready = False
                else:
                    if len(data) < size:
                        self._ready = False  # drained, as far as we know
                    return data
            self._wait_readable()

    def _wait_readable(self) -> None:
        hub = self._hub
        if self._listener is None:
            self._listener = hub.add(
                hub.READ, self._fileno, self._on_readable, self._on_closed, None
            )
        self._waiter = greenlet.getcurrent()
        try:
            hub.switch()
        finally:
            self._waiter = None
        self._ready = True

    def _on_readable(self, fileno: int) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter.switch()
        else:
            self._unwatch()

    def _on_closed(self, exc: BaseException) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter.throw(exc)

    def _unwatch(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                self._hub.remove(listener)

    # -- detached ------------------------------------------------------------

    def detach(self, on_readable: Callable[[], None], on_abort: Callable[[], None]) -> None:
        self._unwatch()
        self._on_readable_cb = on_readable
        self._on_abort = on_abort
        protocol = self._protocol
        if protocol is not None:
            # eventlet.wsgi must not close the socket: neither the protocol
            # when the request ends nor the server when its green thread does.
            protocol.detached = True
            protocol.conn_state[1] = _LEFT_OPEN
            self._registry = protocol.detached_connections
            self._registry.add(self)
            self._protocol = None  # the request's objects go with its green thread
        # Watched from the first resume(): a hub listener keeps the green
        # thread that added it alive, and this one is the request's.
        self._paused = True
        self._ready = True

    def _watch_detached(self) -> None:
        hub = self._hub
        if self._listener is None and not self._closed:
            self._listener = hub.add(
                hub.READ, self._fileno, self._on_detached_readable, self._on_detached_closed, None
            )

    def recv_nowait(self, size: int) -> bytes | None:
        # A read that returned less than asked drained the socket, as far as
        # we know: the next waits for the hub's word rather than failing
        # with EAGAIN (epoll is level triggered, so nothing is missed).
        if not self._ready:
            return None
        try:
            data = self.raw.recv(size)
        except (BlockingIOError, InterruptedError):
            self._ready = False
            return None
        except OSError:
            return b""
        if len(data) < size:
            self._ready = False
        return data

    def _on_detached_readable(self, fileno: int) -> None:
        self._ready = True
        callback = self._on_readable_cb
        if callback is not None:
            callback()

    def _on_detached_closed(self, exc: BaseException) -> None:
        # The hub was told the descriptor closed under it: read the end.
        self._on_detached_readable(self._fileno)

    def pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._unwatch()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._watch_detached()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unwatch()
        if self._registry is not None:
            self._registry.discard(self)
        self._on_readable_cb = self._on_abort = None
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()

    def abort(self) -> None:
        """The server is stopping: end the connection as a lost one."""
        on_abort = self._on_abort
        if on_abort is not None:
            on_abort()
        self.close()

    def finish(self, start_response: Any) -> Any:
        if self._on_readable_cb is not None or self._closed:
            # Detached: the connection outlives the request.
            return self._finish(start_response)
        self._unwatch()
        return super().finish(start_response)


class _LeftOpen:
    """Stands in for a detached socket where eventlet.wsgi would close it."""

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        pass


_LEFT_OPEN = _LeftOpen()


class _GreenTask:
    def __init__(self, thread: Any) -> None:
        self._thread = thread

    def join(self, timeout: float | None = None) -> Any:
        timer = None if timeout is None else eventlet.Timeout(timeout, _JoinTimeout())
        try:
            return self._thread.wait()
        except _JoinTimeout:
            return None
        finally:
            if timer is not None:
                timer.cancel()


class _JoinTimeout(Exception):
    pass


def _finish_eventlet(start_response: Any) -> list[bytes]:
    # eventlet.wsgi writes no response when this flag is set, as its own
    # websocket module does.
    eventlet.wsgi.WSGI_LOCAL.already_handled = True
    return []


class _HeadTimeout(Exception):
    pass


#: Where the environ of a request points to its :class:`_Protocol`.
_PROTOCOL_KEY = "realtime.eventlet_protocol"
#: A closed file, standing in for the buffers of a connection handed over.
_CLOSED = io.BytesIO()
_CLOSED.close()


class _Protocol(eventlet.wsgi.HttpProtocol):  # type: ignore[misc]
    """eventlet's HTTP protocol with a deadline on the whole request head."""

    http_timeout = 60.0
    _head_timer: Any = None

    #: Whether to log a line per request (``ServerOptions.log_output``).
    access_log = False

    def setup(self) -> None:
        super().setup()
        no_delay(self.connection)
        # eventlet.wsgi logs tracebacks only when its log_output is on, and
        # then formats an access line per request too: keep the logger, and
        # skip the lines no one asked for.
        self.server.log_output = self.access_log

    #: Set when the request's socket was handed over and detached: the
    #: connection outlives the request, so the socket stays open.
    detached = False
    #: The server's detached connections (set per server), ended when it stops.
    detached_connections: weakref.WeakSet[_GreenHandedOver] = weakref.WeakSet()

    def finish(self) -> None:
        if not self.detached:
            super().finish()

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ[_PROTOCOL_KEY] = self
        return environ

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _read_request_line(self) -> Any:
        self._head_timer = eventlet.Timeout(self.http_timeout, _HeadTimeout())
        try:
            line = super()._read_request_line()
        except _HeadTimeout:
            self._head_timer = None
            self.close_connection = 1
            return ""
        if not line or len(line) >= self.server.url_length_limit:
            self._cancel_head_timer()
        return line

    def parse_request(self) -> Any:
        try:
            return self._parse_request()
        except _HeadTimeout:
            self._head_timer = None
            self.close_connection = 1
            return False
        finally:
            self._cancel_head_timer()

    def _parse_request(self) -> bool:
        """``http.server``'s parse_request, with a lighter header parser.

        ``http.server`` reads the header lines, then hands them to the email
        package's feed parser: about a fifth of the server's time while
        WebSocket clients connect. An HTTP/1.x request line is handled here
        and its headers split by line (RFC 9112 5); anything else goes to
        ``http.server``, which answers as it always did.
        """
        words = self.raw_requestline.split()
        if len(words) != 3 or words[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            return bool(super().parse_request())
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        method, path, version = (str(word, "iso-8859-1") for word in words)
        self.command, self.path, self.request_version = method, path, version
        if path.startswith("//"):
            self.path = "/" + path.lstrip("/")
        self.close_connection = version == "HTTP/1.0"
        try:
            self.headers = _Headers.read(self.rfile)
        except _BadHead as bad:
            self.close_connection = True
            self.send_error(bad.status, bad.message)
            return False
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and version == "HTTP/1.1":
            return bool(self.handle_expect_100())
        return True


class _BadHead(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Headers:
    """Request headers, with what eventlet.wsgi and http.server ask of them.

    Stands in for the ``email.message.Message`` that ``http.client``
    builds: ``get()`` by name in any case, ``get_content_type()``, and the
    ``(name, value)`` pairs in order as ``_headers``.
    """

    __slots__ = ("_by_name", "_headers")

    #: As http.client: the longest header line, and the most header lines.
    MAX_LINE = 65536
    MAX_HEADERS = 100

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._headers = pairs
        self._by_name: dict[str, str] | None = None

    @classmethod
    def read(cls, rfile: Any) -> _Headers:
        """Read header lines up to the empty line that ends them.

        Raises:
            _BadHead: a line is too long (431), there are too many (431), or
                one is not a header (400).
        """
        pairs: list[tuple[str, str]] = []
        while True:
            line = rfile.readline(cls.MAX_LINE + 1)
            if len(line) > cls.MAX_LINE:
                raise _BadHead(431, "Line too long")
            if line in (b"\r\n", b"\n", b""):
                return cls(pairs)
            if len(pairs) >= cls.MAX_HEADERS:
                raise _BadHead(431, "Too many headers")
            text = str(line, "iso-8859-1").rstrip("\r\n")
            if text[0] in " \t":
                # An obsolete folded line continues the previous value.
                if not pairs:
                    raise _BadHead(400, "Bad header line")
                name, value = pairs[-1]
                pairs[-1] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                raise _BadHead(400, "Bad header line")
            pairs.append((name, value.strip(" \t")))

    def get(self, name: str, default: Any = None) -> Any:
        by_name = self._by_name
        if by_name is None:
            # The first value of each name, as email.message.Message.get().
            by_name = self._by_name = {}
            for key, value in self._headers:
                by_name.setdefault(key.lower(), value)
        return by_name.get(name.lower(), default)

    def get_content_type(self) -> str:
        value = str(self.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        return value if value.count("/") == 1 else "text/plain"

    def items(self) -> list[tuple[str, str]]:
        return list(self._headers)


class _ServerLog:
    """Routes eventlet.wsgi's log calls to our loggers."""

    def __init__(self, access: bool) -> None:
        self._access = access

    def info(self, message: str, *args: Any) -> None:
        if message.startswith("Traceback"):
            logger.error("error in WSGI application:\n%s", message)
        elif self._access:
            access_logger.info(message.rstrip(), *args)

    def debug(self, message: str, *args: Any) -> None:
        logger.debug(message, *args)

    def error(self, message: str, *args: Any) -> None:
        logger.error(message, *args)

    def write(self, message: str) -> None:
        self.info(message)


class _Request:
    """One connection handed to :class:`_Pool`: what ``spawn`` returns."""

    __slots__ = ("args", "fn", "links")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.links: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def link(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(self, *args)`` once the connection is served."""
        self.links.append((fn, args))

    def done(self) -> None:
        for fn, args in self.links:
            try:
                fn(self, *args)
            except Exception:
                logger.exception("error while closing a connection")


class _Pool:
    """The green threads that serve eventlet.wsgi's connections, reused.

    eventlet.wsgi starts every accepted connection with ``pool.spawn()``;
    with a ``GreenPool`` that is a new green thread each time, and a new
    green thread costs CPython 3.11 a frame stack mapped and unmapped
    (see :class:`~realtime.async_modes.base.GreenWorkers`): some 7 % of the
    server's time while WebSocket clients connect. Here a green thread that
    has served its connection waits for the next one. There is no limit on
    how many connections are served at once (eventlet's default is 1,024),
    and ``waitall`` ends the connections still open at shutdown, detached
    WebSockets included.
    """

    #: Idle green threads kept at most.
    KEEP = 256

    def __init__(self, detached: weakref.WeakSet[_GreenHandedOver]) -> None:
        self._detached = detached
        self._idle: list[Any] = []
        self._busy: set[Any] = set()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> _Request:
        request = _Request(fn, args)
        hub = eventlet.hubs.get_hub()
        if self._idle:
            hub.schedule_call_global(0, self._hand, self._idle.pop(), request)
        else:
            thread = eventlet.greenthread.GreenThread(hub.greenlet)
            hub.schedule_call_global(0, thread.switch, self._serve, (request,), {})
        return request

    def _hand(self, thread: Any, request: _Request) -> None:
        # On the hub; a thread that retired since it was picked hands over.
        if thread.dead:
            self.spawn(request.fn, *request.args).links.extend(request.links)
            return
        thread.switch(request)

    def _serve(self, request: _Request) -> None:
        me = greenlet.getcurrent()
        hub = eventlet.hubs.get_hub()
        while True:
            self._busy.add(me)
            try:
                contextvars.Context().run(request.fn, *request.args)
            except Exception:
                logger.exception("error while serving a connection")
            finally:
                self._busy.discard(me)
                request.done()
            del request
            if len(self._idle) >= self.KEEP:
                return
            self._idle.append(me)
            try:
                woken = hub.switch()
            except BaseException:
                woken = None  # killed at shutdown, or a stray timeout
            if type(woken) is not _Request:
                with contextlib.suppress(ValueError):
                    self._idle.remove(me)
                return
            request = woken

    def waitall(self) -> None:
        for thread in list(self._busy):
            thread.kill()
        for thread in list(self._idle):
            thread.kill()
        detached = list(self._detached)
        for handed in detached:
            handed.abort()
        if detached:
            eventlet.sleep(0)  # the disconnect handlers just submitted start
        while self._busy:
            eventlet.sleep(0.01)


class _EventletServer(EmbeddedServer):
    def __init__(self, app: WSGIApp, host: str, port: int, options: ServerOptions) -> None:
        self._app = app
        self._options = options
        self._sock = eventlet.listen((host, port), backlog=options.backlog)
        self._main: Any = None
        self._detached: weakref.WeakSet[_GreenHandedOver] = weakref.WeakSet()
        self._protocol = type(
            "Protocol",
            (_Protocol,),
            {
                "http_timeout": options.http_timeout,
                "detached_connections": self._detached,
                "access_log": options.log_output,
            },
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        self._main = greenlet.getcurrent()
        eventlet.wsgi.server(
            self._sock,
            self._app,
            log=_ServerLog(self._options.log_output),
            log_output=True,
            debug=False,
            protocol=self._protocol,
            custom_pool=_Pool(self._detached),
            socket_timeout=self._options.http_timeout,
            keepalive=True,
        )

    def stop(self) -> None:
        if self._main is not None:
            eventlet.kill(self._main, SystemExit)
