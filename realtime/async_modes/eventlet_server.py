"""realtime's embedded eventlet server: ``eventlet.wsgi`` with what it lacked.

:class:`EventletServer` is what ``realtime.serve()`` runs in the eventlet
mode. Around ``eventlet.wsgi.server`` it adds:

- a deadline on the whole request head, not only on each read
  (:class:`_Protocol`), kept on one timer per connection
  (:class:`_HeadDeadline`);
- the environ built with less work per request than eventlet.wsgi's
  ``get_environ`` (``_Protocol._environ``), tested against it key by key;
- responses written as eventlet.wsgi writes them, with less work
  (:mod:`~realtime.async_modes.eventlet_response`);
- HTTP/1.x request heads split by line (:class:`_Headers`) rather than by the
  ``email`` package's parser, which took a fifth of the connect path
  (``benchmarks/profiles/NOTES.md``, "What changed because of them", step 6:
  connects at 5,000 clients from 2,185 to 2,761 per second); every other
  request line still goes to ``http.server``. The header parser is tested
  against ``http.client``'s on random heads
  (``tests/async_modes/test_eventlet_server.py``); it differs only in
  dropping the whitespace around a value (RFC 9110 5.5), as eventlet.wsgi
  does when it builds the environ;
- green threads reused between connections (:class:`_Pool`);
- WebSockets left open when their request ends, for the hub to serve
  (:meth:`_Protocol.leave_open`), and ended when the server stops;
- eventlet.wsgi's log lines routed to realtime's loggers (:class:`_ServerLog`),
  a client gone mid-exchange reported at DEBUG, not as a traceback.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import unquote

with warnings.catch_warnings():
    # eventlet announces its maintenance mode on import (see eventlet_mode).
    warnings.simplefilter("ignore")
    import eventlet
    import eventlet.greenthread
    import eventlet.hubs
    import eventlet.wsgi

import greenlet

from realtime.async_modes.base import (
    EmbeddedServer,
    ServerOptions,
    WSGIApp,
    no_delay,
    peer_closed,
    peer_gone,
)
from realtime.async_modes.eventlet_response import handle_one_response as respond

__all__ = ["PROTOCOL_KEY", "Detached", "EventletServer"]

logger = logging.getLogger("realtime.server")
access_logger = logging.getLogger("realtime.access")


class Detached(Protocol):
    """A connection left open after its request (a WebSocket served from the hub)."""

    def abort(self) -> None:
        """End it now (the server stops)."""


class _HeadTimeout(Exception):
    pass


#: Where the environ of a request points to its :class:`_Protocol`.
PROTOCOL_KEY = "realtime.eventlet_protocol"
#: The client socket and address of the connection being served (each runs
#: in a context of its own: see :class:`_Pool`).
_client: contextvars.ContextVar[tuple[Any, Any]] = contextvars.ContextVar("realtime_client")


class _LeftOpen:
    """Stands in for a detached socket where eventlet.wsgi would close it."""

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        pass


_LEFT_OPEN = _LeftOpen()


class _HeadDeadline:
    """The deadline on a connection's request heads, on one timer at a time.

    Each request head (from the wait for its first line to its last header
    line) has ``seconds``; an ``eventlet.Timeout`` per head cost a timer
    scheduled and cancelled per request. Here :meth:`arm` and :meth:`disarm`
    only set the deadline; the one timer pending, when it fires, sets itself
    again for the deadline in force, if any, or throws :class:`_HeadTimeout`
    into the connection's green thread once that deadline has passed.
    """

    __slots__ = ("_thread", "_timer", "deadline", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline: float | None = None
        self._timer: Any = None
        self._thread: Any = None

    def arm(self) -> None:
        self.deadline = time.monotonic() + self.seconds
        if self._timer is None:
            self._thread = greenlet.getcurrent()
            self._timer = eventlet.hubs.get_hub().schedule_call_global(self.seconds, self._check)

    def disarm(self) -> None:
        self.deadline = None

    def _check(self) -> None:
        # On the hub.
        self._timer = None
        deadline = self.deadline
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left > 0:
            self._timer = eventlet.hubs.get_hub().schedule_call_global(left, self._check)
            return
        self.deadline = None
        if not self._thread.dead:
            self._thread.throw(_HeadTimeout())

    def cancel(self) -> None:
        """The connection ended (or was handed over): no more heads on it."""
        self.deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


#: The headers the environ names without ``HTTP_`` (PEP 3333).
_NOT_HTTP_HEADERS = frozenset(("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"))


class _Protocol(eventlet.wsgi.HttpProtocol):  # type: ignore[misc]
    """eventlet's HTTP protocol with a deadline on the whole request head."""

    http_timeout = 60.0
    _head: _HeadDeadline

    #: Whether to log a line per request (``ServerOptions.log_output``).
    access_log = False

    def setup(self) -> None:
        self._head = _HeadDeadline(self.http_timeout)
        super().setup()
        no_delay(self.connection)
        _client.set((self.connection, self.client_address))
        # eventlet.wsgi logs tracebacks only when its log_output is on, and
        # then formats an access line per request too: keep the logger, and
        # skip the lines no one asked for.
        self.server.log_output = self.access_log

    #: Set when the request's socket was handed over and detached: the
    #: connection outlives the request, so the socket stays open.
    detached = False
    #: The server's detached connections (set per server), ended when it stops.
    detached_connections: weakref.WeakSet[Detached] = weakref.WeakSet()

    def handle(self) -> None:
        try:
            super().handle()
        finally:
            self._head.cancel()

    def finish(self) -> None:
        if not self.detached:
            super().finish()

    def leave_open(self, handed: Detached) -> weakref.WeakSet[Detached]:
        """Keep the request's socket open after the request: ``handed`` serves it.

        Neither this protocol, when the request ends, nor the server, when
        the request's green thread does, closes it; the server ends it when
        it stops. Returns the server's detached connections, ``handed``
        among them.
        """
        self.detached = True
        self.conn_state[1] = _LEFT_OPEN
        self.detached_connections.add(handed)
        return self.detached_connections

    def handle_one_response(self) -> None:
        respond(self)

    def get_environ(self) -> dict[str, Any]:
        headers = self.headers
        environ = self._environ(headers) if type(headers) is _Headers else super().get_environ()
        environ[PROTOCOL_KEY] = self
        # eventlet.wsgi writes HTTP/1.0 whatever the client sent; PEP 3333
        # wants the client's version (the WebSocket handshake needs 1.1).
        environ["SERVER_PROTOCOL"] = self.request_version
        return environ

    #: The server's part of the environ, and its address (SERVER_NAME and
    #: SERVER_PORT), once per connection.
    _server_environ: dict[str, Any] | None = None
    _server_address: tuple[str, str] | None = None

    def _environ(self, headers: _Headers) -> dict[str, Any]:
        """eventlet.wsgi's environ of a request whose head :class:`_Headers` read.

        The same keys and values as ``HttpProtocol.get_environ`` (tested
        against it), with less work per request: the server's part and its
        address are looked up once per connection, and the path unquoted
        only when it has something to unquote.
        """
        base = self._server_environ
        if base is None:
            base = self._server_environ = self.server.get_environ()
        environ = base.copy()
        environ["wsgi.errors"] = sys.stderr
        environ["REQUEST_METHOD"] = self.command
        environ["SCRIPT_NAME"] = ""
        path, question, query = self.path.partition("?")
        environ["RAW_PATH_INFO"] = path
        environ["PATH_INFO"] = unquote(path, encoding="latin1") if "%" in path else path
        if question:
            environ["QUERY_STRING"] = query
        by_name = headers.by_name()
        content_type = by_name.get("content-type")
        environ["CONTENT_TYPE"] = (
            headers.get_content_type() if content_type is None else content_type
        )
        length = by_name.get("content-length")
        if length:
            environ["CONTENT_LENGTH"] = length
        environ["SERVER_PROTOCOL"] = self.request_version  # see get_environ
        address = self._server_address
        if address is None:
            host, port = eventlet.wsgi.addr_to_host_port(self.request.getsockname())
            address = self._server_address = (host, str(port))
        environ["SERVER_NAME"], environ["SERVER_PORT"] = address
        host, port = eventlet.wsgi.addr_to_host_port(self.client_address)
        environ["REMOTE_ADDR"] = host
        environ["REMOTE_PORT"] = str(port)
        environ["GATEWAY_INTERFACE"] = "CGI/1.1"
        environ["headers_raw"] = pairs = headers.stripped()
        for name, value in pairs:
            # eventlet.wsgi drops names with an underscore (see its
            # formalize_key_naming), and names CONTENT_* without HTTP_.
            if "_" in name:
                continue
            key = "HTTP_" + name.replace("-", "_").upper()
            if key in _NOT_HTTP_HEADERS:
                continue
            if key in environ:
                environ[key] += "," + value
            else:
                environ[key] = value
        chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
        if not chunked and length is None:
            length = "0"  # RFC 9112 6.3: no body
        expects = environ.get("HTTP_EXPECT", "").lower() == "100-continue"
        environ["wsgi.input"] = environ["eventlet.input"] = eventlet.wsgi.Input(
            self.rfile,
            length,
            self.connection,
            wfile=self.wfile if expects else None,
            wfile_line=b"HTTP/1.1 100 Continue\r\n" if expects else None,
            chunked_input=chunked,
        )
        environ["eventlet.posthooks"] = []
        environ["eventlet.set_idle"] = self._set_idle
        return environ

    def _set_idle(self) -> None:
        # What eventlet.wsgi's environ offers as eventlet.set_idle.
        self.conn_state[2] = eventlet.wsgi.STATE_IDLE

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's lines (a bad request head answered by send_error)
        # would go to stderr.
        logger.debug("http server: " + format, *args)

    def _read_request_line(self) -> Any:
        head = self._head
        head.arm()
        # The head's deadline bounds the wait for the request line, which
        # takes the socket's own timeout (http_timeout too, a timer per
        # read that blocks) off meanwhile: eventlet.wsgi sets it back.
        self.connection.settimeout(None)
        try:
            line = super()._read_request_line()
        except _HeadTimeout:
            self.close_connection = 1
            return ""
        if not line or len(line) >= self.server.url_length_limit:
            head.disarm()
        return line

    def parse_request(self) -> Any:
        try:
            return self._parse_request()
        except _HeadTimeout:
            self.close_connection = 1
            return False
        finally:
            self._head.disarm()

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
        method = str(words[0], "iso-8859-1")
        path = str(words[1], "iso-8859-1")
        version = str(words[2], "iso-8859-1")
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
        by_name = self.headers.by_name()
        connection = by_name.get("connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        expect = by_name.get("expect", "").lower()
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

    __slots__ = ("_by_name", "_headers", "_split_at_once")

    #: As http.client: the longest header line, and the most header lines.
    MAX_LINE = 65536
    MAX_HEADERS = 100

    def __init__(self, pairs: list[tuple[str, str]], *, split_at_once: bool = False) -> None:
        self._headers = pairs
        self._by_name: dict[str, str] | None = None
        #: Read by :meth:`_from_buffer`: no value holds a CR or LF.
        self._split_at_once = split_at_once

    @classmethod
    def read(cls, rfile: Any) -> _Headers:
        """Read header lines up to the empty line that ends them.

        ``rfile`` is eventlet.wsgi's reader of a request head, which bounds
        each line and the head (``FileObjectForHeaders``), or a reader as
        ``http.client`` reads from. A head already in the reader's buffer,
        as a request's head mostly is, is split at once
        (:meth:`_from_buffer`); line by line otherwise.

        Raises:
            _BadHead: a line is too long (431), there are too many (431), or
                one is not a header (400).
        """
        buffered = getattr(rfile, "fp", rfile)
        if hasattr(buffered, "peek"):
            whole = cls._from_buffer(buffered)
            if whole is not None:
                return whole
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
                more = text.strip(" \t")  # HTTP's whitespace only (RFC 9110 5.6.3)
                pairs[-1] = (name, f"{value} {more}" if value else more)
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                raise _BadHead(400, "Bad header line")
            pairs.append((name, value.strip(" \t")))

    #: eventlet.wsgi's bounds on a header line (its end included) and on a
    #: head, which its reader enforces.
    EVENTLET_MAX_LINE = eventlet.wsgi.MAX_HEADER_LINE
    EVENTLET_MAX_HEAD = eventlet.wsgi.MAX_TOTAL_HEADER_SIZE

    @classmethod
    def _from_buffer(cls, buffered: Any) -> _Headers | None:
        """The head, if the reader's buffer holds all of it, in CRLF lines.

        Takes only what the line-by-line reading would read the same way:
        a head with a line folded, a bare CR or LF, a line over eventlet's
        bound, more lines than allowed or a line that is no header is left
        in the buffer for it (which refuses what must be refused).
        """
        data = buffered.peek(cls.EVENTLET_MAX_LINE)
        if data[:2] == b"\r\n":
            buffered.read(2)
            return cls([])
        end = data.find(b"\r\n\r\n")
        if end < 0 or end + 4 > cls.EVENTLET_MAX_HEAD:
            return None
        lines = str(data[:end], "iso-8859-1").split("\r\n")
        if len(lines) > cls.MAX_HEADERS:
            return None
        pairs: list[tuple[str, str]] = []
        longest = cls.EVENTLET_MAX_LINE - 2
        for line in lines:
            if "\r" in line or "\n" in line or line[0] in " \t" or len(line) >= longest:
                return None
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                return None
            pairs.append((name, value.strip(" \t")))
        buffered.read(end + 4)
        return cls(pairs, split_at_once=True)

    def by_name(self) -> dict[str, str]:
        """The first value of each name, by its name in lower case, as
        ``email.message.Message.get()`` finds them."""
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = {}
            for key, value in self._headers:
                by_name.setdefault(key.lower(), value)
        return by_name

    def get(self, name: str, default: Any = None) -> Any:
        by_name = self._by_name
        if by_name is None:
            by_name = self.by_name()
        return by_name.get(name.lower(), default)

    def get_content_type(self) -> str:
        value = str(self.get("Content-Type") or "").split(";", 1)[0].strip(" \t").lower()
        return value if value.count("/") == 1 else "text/plain"

    def items(self) -> list[tuple[str, str]]:
        return list(self._headers)

    def stripped(self) -> tuple[tuple[str, str], ...]:
        """The pairs with the whitespace eventlet.wsgi strips off each value
        (``headers_raw`` in its environ): spaces and tabs are gone already."""
        if self._split_at_once:
            return tuple(self._headers)
        return tuple((name, value.strip(" \t\n\r")) for name, value in self._headers)


class _ServerLog:
    """Routes eventlet.wsgi's log calls to our loggers.

    eventlet.wsgi logs while it handles the exception it reports, so the
    exception is at hand: one that only says the client went away (a reset
    while the response was being written, say) is a DEBUG line.
    """

    def __init__(self, access: bool) -> None:
        self._access = access

    def info(self, message: str, *args: Any) -> None:
        if message.startswith("Traceback"):
            if not _client_gone():
                logger.error("error in WSGI application:\n%s", message)
        elif self._access:
            access_logger.info(message.rstrip(), *args)

    def debug(self, message: str, *args: Any) -> None:
        logger.debug(message, *args)

    def error(self, message: str, *args: Any) -> None:
        if not _client_gone():
            logger.error(message, *args)

    def write(self, message: str) -> None:
        self.info(message)


def _client_gone() -> bool:
    """Log at DEBUG, and return True, if the exception being handled is a client gone.

    Within a request, the client's socket must say so too: the application's
    own connection to some backend may be what was reset.
    """
    exc = sys.exc_info()[1]
    if exc is None or not peer_gone(exc):
        return False
    sock, address = _client.get((None, "?"))
    if sock is not None and not peer_closed(getattr(sock, "fd", sock)):
        return False
    logger.debug("client %s gone mid-request: %s: %s", address, type(exc).__name__, exc)
    return True


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
    (see :class:`~realtime.async_modes.green.GreenWorkers`): some 7 % of the
    server's time while WebSocket clients connect. Here a green thread that
    has served its connection waits for the next one. There is no limit on
    how many connections are served at once (eventlet's default is 1,024),
    and ``waitall`` ends the connections still open at shutdown, detached
    WebSockets included.
    """

    #: Idle green threads kept at most.
    KEEP = 256

    def __init__(self, detached: weakref.WeakSet[Detached]) -> None:
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
                if not _client_gone():
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


class EventletServer(EmbeddedServer):
    """``eventlet.wsgi`` serving ``app`` on ``host``:``port``, as :class:`_Protocol` and
    :class:`_Pool` make it."""

    def __init__(self, app: WSGIApp, host: str, port: int, options: ServerOptions) -> None:
        self._app = app
        self._options = options
        self._sock = eventlet.listen((host, port), backlog=options.backlog)
        self._main: Any = None
        self._detached: weakref.WeakSet[Detached] = weakref.WeakSet()
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
