"""The Engine.IO server: a WSGI application that validates and dispatches.

Spec: https://github.com/socketio/engine.io-protocol (v4).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, overload

import orjson

from realtime.async_modes import AsyncMode, ServerOptions, get_async_mode, under_gunicorn
from realtime.async_modes.base import HAND_OVER_SIGNALS
from realtime.engine.cors import CorsOrigins, CorsPolicy
from realtime.engine.forwarding import REPLY_TIMEOUT, ClusterLink, Forwarder, new_node_id, owner_of
from realtime.engine.http import Refusal, Request, Response, WarningThrottle, error_response
from realtime.engine.listener import (
    EVENTS,
    EngineListener,
    EngineMonitors,
    EventName,
    HandlerListener,
)
from realtime.engine.local_channel import LocalChannel
from realtime.engine.opening import ask_listener, handshake_problem, open_packet
from realtime.engine.options import Cookie, CookieOption, EngineOptions
from realtime.engine.outgoing import Outgoing
from realtime.engine.scheduler import Scheduler
from realtime.engine.session import Backlogged, DisconnectReason, Session, UpgradeOutcome
from realtime.engine.slow_client import DEFAULT_LIMIT, SlowClient, SlowClientPolicy
from realtime.engine.transports.base import Opened, StartResponse, Transport
from realtime.engine.transports.polling import PollingTransport
from realtime.engine.transports.sse_streaming import SseTransport, StreamingTransport
from realtime.engine.transports.upstream import client_left
from realtime.engine.transports.websocket import WebSocketTransport
from realtime.exceptions import ConfigurationError
from realtime.protocol.engineio import EngineSid, ErrorCode, Packet, PacketType

__all__ = ["TRANSPORTS", "Server"]

logger = logging.getLogger("realtime.engine")

#: Every transport the engine knows, by the name clients use.
TRANSPORTS: dict[str, type[Transport]] = {
    PollingTransport.name: PollingTransport,
    WebSocketTransport.name: WebSocketTransport,
    SseTransport.name: SseTransport,
    StreamingTransport.name: StreamingTransport,
}

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)


class Server:
    """An Engine.IO v4 server, usable on its own as a WSGI application.

    Args:
        async_mode: ``"eventlet"``, ``"gevent"`` or ``"threading"``; None
            picks the best installed (see :func:`realtime.async_modes.get_async_mode`).
        ping_interval: seconds between the server's pings; or, as in
            python-engineio, ``(seconds, grace)``, where the grace period is
            added to ``ping_timeout``.
        ping_timeout: seconds a client has to answer a ping before its session
            is closed.
        max_http_buffer_size: the largest message or POST body accepted, in
            bytes; advertised to clients as ``maxPayload``.
        allow_upgrades: let polling sessions upgrade to WebSocket.
        http_compression: compress polling responses with gzip or deflate.
        compression_threshold: smallest response worth compressing, in bytes.
        cookie: a cookie carrying the session id on the handshake response:
            a name, a dict of settings (see :data:`~realtime.engine.options.CookieOption`), or None.
        cors_allowed_origins: origins allowed to connect: None for the
            server's own origin only, ``"*"`` for any, a list, or a callable.
        cors_credentials: allow credentials (cookies) on cross-origin requests.
        transports: transports clients may use (default: all).
        websocket_compression: negotiate permessage-deflate on WebSocket.
        async_handlers: run message handlers on worker tasks, not on the task
            that read the message.
        upgrade_timeout: seconds a client has to finish an upgrade it began.
        slow_client_limit: bytes of messages that may wait for a client that
            does not read them (8 MiB by default).
        slow_client_policy: past that, ``"disconnect"`` the client (the
            default) or ``"drop"`` each message that would pass the limit;
            see :mod:`realtime.engine.slow_client`.
        path: URL path the server answers under (``/engine.io/`` by default).
        wsgi_app: a WSGI app that serves every other path (middleware mode).
        logger: True to log at INFO level, or a logger to use instead of
            ``realtime.engine`` (python-engineio's option; default leaves
            logging configuration to the application).
        monitor_clients: accepted for python-engineio compatibility;
            heartbeats always run.
    """

    def __init__(
        self,
        *,
        async_mode: str | None = None,
        ping_interval: float | tuple[float, float] = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1_000_000,
        allow_upgrades: bool = True,
        http_compression: bool = True,
        compression_threshold: int = 1024,
        cookie: CookieOption = None,
        cors_allowed_origins: CorsOrigins = None,
        cors_credentials: bool = True,
        transports: str | Sequence[str] | None = None,
        websocket_compression: bool = False,
        async_handlers: bool = True,
        upgrade_timeout: float = 10,
        slow_client_limit: int = DEFAULT_LIMIT,
        slow_client_policy: SlowClientPolicy = "disconnect",
        path: str = "engine.io",
        wsgi_app: Callable[..., Iterable[bytes]] | None = None,
        logger: bool | logging.Logger = False,
        cluster: ClusterLink | None = None,
        monitor_clients: bool = True,
    ) -> None:
        interval, grace = _ping_interval(ping_interval)
        self.mode: AsyncMode = get_async_mode(async_mode)
        if under_gunicorn():
            # gunicorn lifts none of the process's limits: do what serve()
            # does (open files up to the hard limit, the collector tuned),
            # so that a worker holds as many connections as it is given.
            self.mode.prepare_process(ServerOptions())
        self.options = EngineOptions(
            ping_interval=interval,
            ping_timeout=float(ping_timeout) + grace,
            max_http_buffer_size=int(max_http_buffer_size),
            allow_upgrades=allow_upgrades,
            http_compression=http_compression,
            compression_threshold=int(compression_threshold),
            cookie=Cookie.from_option(cookie),
            transports=EngineOptions.transports_from(transports, tuple(TRANSPORTS)),
            upgrade_timeout=float(upgrade_timeout),
            slow_client=SlowClient(slow_client_limit, slow_client_policy),
            websocket_compression=websocket_compression,
            async_handlers=async_handlers,
            path=path.strip("/"),
        )
        if not self.options.path and wsgi_app is not None:
            raise ConfigurationError("path='' answers every URL, so wsgi_app would never be called")
        self.wsgi_app = wsgi_app
        self.cors = CorsPolicy(cors_allowed_origins, cors_credentials)
        self.scheduler = Scheduler(self.mode)
        self.logger = _configure_logger(logger)
        self._throttle = WarningThrottle(self.logger)
        self._sessions: dict[EngineSid, Session] = {}
        self._handlers = HandlerListener(self._sessions.get, async_handlers, self.logger)
        self._listener: EngineListener = self._handlers
        # SessionHost.session_message: the listener's own method, which
        # sessions call for each message with nothing in between.
        self.session_message = self._listener.message_received
        #: Told of refused requests and of how upgrades ended (metrics).
        self.monitors = EngineMonitors(self.logger)
        self._transports = {name: TRANSPORTS[name](self) for name in self.options.transports}
        self._prefix = f"/{self.options.path}" if self.options.path else ""
        self._context_checked = False
        #: This process's id: every session id it creates starts with it.
        self.node_id = cluster.node_id if cluster is not None else new_node_id()
        self.forwarder = (
            Forwarder(
                cluster,
                self.mode,
                self.handle_request,
                self._local_session,
                self.options.upgrade_timeout,
            )
            if cluster is not None
            else None
        )

    @property
    def async_mode(self) -> str:
        """The name of the async mode the server runs on."""
        return self.mode.name

    # -- handlers -------------------------------------------------------------

    @overload
    def on(self, event: EventName, handler: None = None) -> Callable[[H], H]: ...
    @overload
    def on(self, event: EventName, handler: H) -> H: ...

    def on(self, event: EventName, handler: H | None = None) -> H | Callable[[H], H]:
        """Register a handler for ``connect``, ``message`` or ``disconnect``.

        ``connect(sid, environ)`` may return False or raise
        :class:`~realtime.exceptions.ConnectionRefused` to refuse the client;
        ``message(sid, data)`` receives str or bytes;
        ``disconnect(sid, reason)`` receives a :class:`DisconnectReason`
        (a handler taking only ``sid`` works too).

        Usable as ``@server.on("message")`` or ``server.on("message", fn)``.

        Raises:
            ConfigurationError: an unknown event, or the engine serves a layer
                above it (:meth:`attach`), whose port takes every event.
        """
        if event not in EVENTS:
            raise ConfigurationError(f"unknown event {event!r}; use one of {', '.join(EVENTS)}")
        if self._listener is not self._handlers:
            raise ConfigurationError(
                "this engine hands its sessions to the layer above it (a Socket.IO server); "
                "register handlers there"
            )

        def register(fn: H) -> H:
            self._handlers.register(event, fn)
            return fn

        return register(handler) if handler is not None else register

    def attach(self, listener: EngineListener) -> None:
        """Hand every session's opening, messages and end to ``listener``.

        This is how a layer above the engine (the Socket.IO server) plugs in;
        ``on()`` handlers no longer apply. The listener is called on the task
        that read each message, whatever ``async_handlers`` says.
        """
        self._listener = listener
        self.session_message = listener.message_received

    # -- the WSGI application -------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self.handle_request(environ, start_response)

    def handle_request(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serve one WSGI request (python-engineio's name for the entry point)."""
        path = environ.get("PATH_INFO", "") or "/"
        if not self._owns(path):
            if self.wsgi_app is not None:
                return self.wsgi_app(environ, start_response)
            return Response("404 Not Found", b"Not Found", [("Content-Type", "text/plain")])(
                start_response
            )
        request = Request(environ)
        if not self._context_checked:
            self._context_checked = True
            problem = self.mode.wrong_context()
            if problem is not None:
                self.logger.error("%s", problem)
        try:
            return self._dispatch(request, start_response)
        except HAND_OVER_SIGNALS:
            raise
        except Exception:
            self.logger.exception("internal error while serving %s", request.describe())
            return Response("500 Internal Server Error", b"", [])(start_response)

    def _owns(self, path: str) -> bool:
        prefix = self._prefix
        return path == prefix or path.startswith(prefix + "/") or (not prefix)

    def _dispatch(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.method == "OPTIONS":
            response = self.cors.preflight(request)
            if response.status.startswith("403"):
                self._refuse_origin(request)
            return response(start_response)
        if not self.cors.allows(request):
            self._refuse_origin(request)
            return error_response(ErrorCode.FORBIDDEN)(start_response)
        query = request.query
        transport = self._transports.get(query.get("transport", ""))
        if transport is None:
            detail = (
                f"transport {query.get('transport')!r} is not one of the enabled "
                f"transports {list(self._transports)}"
            )
            return self._error(request, ErrorCode.UNKNOWN_TRANSPORT, detail)(start_response)
        sid = query.get("sid")
        if sid is None:
            return self._handshake(request, transport, start_response)
        session = self._sessions.get(EngineSid(sid))
        if session is None or session.state.value == "closed":
            forwarder = self.forwarder
            if (
                forwarder is not None
                and not forwarder.owns(sid)
                and "realtime.forwarded_from" not in request.environ
            ):
                return self._forward(forwarder, request, sid, transport, start_response)
            self._throttle.warning(
                "unknown-sid",
                "unknown session id %r (%s). It expired or was closed, or, with "
                "several server processes behind a load balancer, this request "
                "reached a process that does not hold the session.",
                sid,
                request.describe(),
            )
            return self._error(request, ErrorCode.UNKNOWN_SID)(start_response)
        if transport.name == session.transport and not (
            request.is_websocket and transport.name == WebSocketTransport.name
        ):
            return transport.handle(request, session, start_response)
        if transport.accepts_upgrades and (
            request.is_websocket or transport.name != WebSocketTransport.name
        ):
            return self._upgrade(request, session, transport, start_response)
        detail = (
            f"a {transport.name} request for session {session.sid}, which is on {session.transport}"
        )
        return self._error(request, ErrorCode.BAD_REQUEST, detail)(start_response)

    def _forward(
        self,
        forwarder: Forwarder,
        request: Request,
        sid: str,
        transport: Transport,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """Serve a request for a session another process owns (see cluster.py)."""
        relayed = (request.is_websocket and transport.name == WebSocketTransport.name) or (
            request.method == "GET"
            and transport.name in (SseTransport.name, StreamingTransport.name)
        )
        if relayed:
            return transport.relay(request, sid, forwarder, start_response)
        body = b""
        if request.method == "POST":
            try:
                read = request.read_body(self.options.max_http_buffer_size)
            except (OSError, ValueError) as exc:
                if client_left(self, request, exc):
                    self.logger.debug("%s: the client went away mid-body", request.describe())
                    return error_response(ErrorCode.BAD_REQUEST)(start_response)
                detail = f"the request body did not arrive in time or was cut short ({exc})"
                return self._error(request, ErrorCode.BAD_REQUEST, detail)(start_response)
            if read is None:
                too_large = Response("413 Payload Too Large", refusal=Refusal.PAYLOAD_TOO_LARGE)
                return self._refused(too_large)(start_response)
            body = read
        options = self.options
        wait = REPLY_TIMEOUT
        watch = None
        if request.method == "GET" and request.query.get("wait") != "0":
            wait += options.ping_interval + options.ping_timeout
            sock = self.mode.request_socket(request.environ)
            if sock is not None:
                watch = self.mode.watch_hangup(sock, lambda: forwarder.abandon(sid))
        try:
            response = forwarder.forward_http(request, body, wait)
        finally:
            if watch is not None:
                watch.cancel()
        if response is None:
            self._throttle.warning(
                "owner-gone",
                "session %r belongs to process %s, which did not answer (%s)",
                sid,
                owner_of(sid),
                request.describe(),
            )
            return self._error(request, ErrorCode.UNKNOWN_SID)(start_response)
        return response(start_response)

    def _local_session(self, sid: str) -> Session | None:
        session = self._sessions.get(EngineSid(sid))
        return session if session is not None and not session.closed else None

    def _refuse_origin(self, request: Request) -> None:
        if self.monitors:
            self.monitors.request_refused(Refusal.BAD_ORIGIN)
        origin = request.header("Origin")
        self._throttle.warning(
            f"origin:{origin}",
            "refused a request from origin %r (%s): the server allows %s. "
            "Add it to cors_allowed_origins to accept it.",
            origin,
            request.describe(),
            self.cors.describe(),
        )

    def _handshake(
        self, request: Request, transport: Transport, start_response: StartResponse
    ) -> Iterable[bytes]:
        problem = handshake_problem(request, transport)
        if problem is not None:
            return self._error(request, *problem)(start_response)
        return transport.handshake(request, start_response)

    def _upgrade(
        self,
        request: Request,
        session: Session,
        transport: Transport,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        current = TRANSPORTS.get(session.transport)
        can_move = current is not None and transport.name in current.upgrades
        if not can_move and isinstance(transport, WebSocketTransport):
            # Already on WebSocket, or upgraded to another transport: like
            # Node's engine.io, complete the handshake and close the new
            # WebSocket; the session keeps its transport.
            return transport.refuse(request, session, start_response)
        if not (self.options.allow_upgrades and can_move):
            return self.reject(
                request,
                None,
                DisconnectReason.TRANSPORT_ERROR,
                f"cannot upgrade session {session.sid} from {session.transport} "
                f"to {transport.name}",
                error_response(ErrorCode.BAD_REQUEST),
            )(start_response)
        return transport.upgrade(request, session, start_response)

    def _error(self, request: Request, code: ErrorCode, detail: str | None = None) -> Response:
        if detail is not None:
            self._throttle.warning(
                f"{code.name}:{detail}", "refused %s: %s", request.describe(), detail
            )
        response = error_response(code)
        response.headers.extend(self.response_headers(request))
        return self._refused(response)

    def _refused(self, response: Response) -> Response:
        """Tell the monitors why ``response`` refuses its request."""
        if self.monitors and response.refusal is not None:
            self.monitors.request_refused(response.refusal)
        return response

    # -- services for transports (TransportHost) ------------------------------

    def response_headers(self, request: Request) -> list[tuple[str, str]]:
        return self.cors.headers(request)

    def refuse(self, request: Request, response: Response) -> Response:
        response.headers.extend(self.response_headers(request))
        return self._refused(response)

    def reject(
        self,
        request: Request,
        session: Session | None,
        reason: DisconnectReason,
        detail: str,
        response: Response,
    ) -> Response:
        if session is not None:
            self.logger.warning(
                "closing session %s: %s (%s)", session.sid, detail, request.describe()
            )
            session.close(reason)
        else:
            self._throttle.warning(f"reject:{detail}", "refused %s: %s", request.describe(), detail)
        response.headers.extend(self.response_headers(request))
        return self._refused(response)

    def open_session(self, request: Request, transport: str) -> Opened | Response:
        sid = EngineSid(self.node_id + secrets.token_urlsafe(12))
        options = self.options
        session = Session(
            self,
            sid,
            request.environ,
            transport,
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            slow_client=options.slow_client,
        )
        self._sessions[sid] = session
        refusal = ask_listener(self._listener, sid, request, self.logger)
        if refusal is not None:
            self._sessions.pop(sid, None)
            refusal.headers.extend(self.response_headers(request))
            return self._refused(refusal)
        transport_class = TRANSPORTS.get(transport)
        upgrades = transport_class.upgrades if transport_class is not None else ()
        packet = open_packet(sid, request, options, upgrades, self._transports)
        self.logger.debug("session %s opened on %s (%s)", sid, transport, request.describe())
        return Opened(session, packet)

    # -- services for sessions (SessionHost) ----------------------------------

    def session_flow_control(self, session: Session) -> Backlogged | None:
        return self._listener.flow_control(session.sid)

    def session_closed(self, session: Session, reason: DisconnectReason) -> None:
        self.logger.debug("session %s closed: %s", session.sid, reason)
        try:
            # Before the session is released, so the listener (the Socket.IO
            # layer, say) can still ask for its transport.
            self._listener.session_closed(session.sid, reason)
        finally:
            if session.state.value == "closed":
                self._release(session)

    def session_released(self, session: Session) -> None:
        self._release(session)

    def upgrade_ended(self, session: Session, transport: str, outcome: UpgradeOutcome) -> None:
        if self.monitors:
            self.monitors.upgrade_ended(transport, outcome)

    def _release(self, session: Session) -> None:
        if self._sessions.get(session.sid) is session:
            del self._sessions[session.sid]

    # -- the application's API ------------------------------------------------

    def send(
        self, sid: str, data: str | bytes | bytearray | memoryview | dict[str, Any] | list[Any]
    ) -> bool:
        """Send a message to one client.

        ``bytes``-like data goes as a binary message; a dict or list is sent
        as JSON text. Returns False when the session is unknown or closed.
        """
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        elif isinstance(data, (dict, list)):
            data = orjson.dumps(data).decode("utf-8")
        return self.send_prepared(sid, Outgoing([data]))

    def send_prepared(self, sid: str, outgoing: Outgoing) -> bool:
        """Send a message prepared once for many clients.

        See :class:`realtime.engine.outgoing.Outgoing`.

        Returns False when the session is unknown or closed.
        """
        session = self._sessions.get(EngineSid(sid))
        if session is None:
            self.logger.debug("send to unknown session %s dropped", sid)
            return False
        return session.send(outgoing)

    def disconnect(
        self,
        sid: str | None = None,
        *,
        reason: DisconnectReason = DisconnectReason.SERVER_DISCONNECT,
    ) -> None:
        """Close one session, or all of them.

        Args:
            sid: the session, or None for every session.
            reason: why. The default, a server disconnect, first delivers what
                is queued; any other reason (a layer above found the client's
                input invalid, say) cuts the session at once.
        """
        if sid is None:
            targets = list(self._sessions.values())
        else:
            found = self._sessions.get(EngineSid(sid))
            targets = [found] if found is not None else []
        for session in targets:
            session.close(reason)

    # -- in-process clients ---------------------------------------------------

    def connect_local(
        self,
        environ: dict[str, Any],
        on_packets: Callable[[Sequence[Packet]], None],
        on_close: Callable[[], None],
    ) -> EngineSid | None:
        """Open a session for a client in this process (a test client).

        It runs the connect handler like any other; what the server sends
        goes to ``on_packets``, the session's end to ``on_close``. Returns the
        session id, or None when the connect handler refused.
        """
        request = Request(environ)
        opened = self.open_session(request, LocalChannel.name)
        if isinstance(opened, Response):
            return None
        opened.session.start(push=LocalChannel(on_packets, on_close), heartbeat=False)
        return opened.session.sid

    def receive_local(self, sid: str, data: str | bytes) -> None:
        """A message from the in-process client of session ``sid``."""
        session = self._sessions.get(EngineSid(sid))
        if session is not None:
            session.receive(Packet(PacketType.MESSAGE, data))

    def close_local(self, sid: str) -> None:
        """The in-process client of session ``sid`` disconnects."""
        session = self._sessions.get(EngineSid(sid))
        if session is not None:
            session.close(DisconnectReason.CLIENT_DISCONNECT)

    def shutdown(self) -> None:
        """Close every session and stop the server's background task."""
        self.disconnect()
        self.scheduler.stop()

    def transport(self, sid: str) -> str:
        """The name of the transport session ``sid`` is on.

        Raises:
            KeyError: no such session.
        """
        return self._sessions[EngineSid(sid)].transport

    def is_connected(self, sid: str) -> bool:
        """True while session ``sid`` is open."""
        session = self._sessions.get(EngineSid(sid))
        return session is not None and not session.closed

    def get_session(self, sid: str) -> dict[str, Any]:
        """The user session dict of ``sid`` (python-engineio's per-client storage).

        It lives from the connect handler until the disconnect handler returns.

        Raises:
            KeyError: no such session.
        """
        return self._handlers.user_sessions[EngineSid(sid)]

    def save_session(self, sid: str, session: Mapping[str, Any]) -> None:
        """Replace the user session dict of ``sid``.

        Raises:
            KeyError: no such session.
        """
        if EngineSid(sid) not in self._handlers.user_sessions:
            raise KeyError(sid)
        self._handlers.user_sessions[EngineSid(sid)] = dict(session)

    @contextlib.contextmanager
    def session(self, sid: str) -> Iterator[dict[str, Any]]:
        """``with server.session(sid) as s:`` edits and saves the user session.

        Raises:
            KeyError: no such session.
        """
        data = self.get_session(sid)
        yield data
        self.save_session(sid, data)

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``target`` as a task of the server's async mode."""
        return self.mode.spawn(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        """Sleep without blocking other tasks of the async mode."""
        self.mode.sleep(seconds)

    def create_event(self) -> Any:
        """An event object of the server's async mode."""
        return self.mode.event()


def _ping_interval(value: Any) -> tuple[float, float]:
    """The ``ping_interval`` option: seconds, or (seconds, grace seconds).

    Raises:
        ConfigurationError: anything else.
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigurationError("ping_interval must be seconds or (seconds, grace seconds)")
        return float(value[0]), float(value[1])
    return float(value), 0.0


def _configure_logger(option: bool | logging.Logger) -> logging.Logger:
    if isinstance(option, logging.Logger):
        return option
    if option and logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger
