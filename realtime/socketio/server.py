"""The Socket.IO v5 server: namespaces, events, acknowledgements and rooms.

It sits on an Engine.IO :class:`realtime.engine.Server`, from which it gets
each client's messages in order, and hands prepared messages back to it; it
never sees a transport. Its API follows python-socketio's ``Server`` where
the meaning is the same.

Spec: https://github.com/socketio/socket.io-protocol (v5).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast, overload

from realtime.async_modes import AsyncMode, get_async_mode
from realtime.engine import DisconnectReason
from realtime.engine import Server as EngineServer
from realtime.exceptions import ConfigurationError
from realtime.protocol.parsers import Parser, get_parser
from realtime.protocol.socketio import Serializer, SocketSid
from realtime.socketio.acks import AckRegistry, AckRequests
from realtime.socketio.admin import AdminAPI, InstrumentedServer
from realtime.socketio.client_files import StaticFiles
from realtime.socketio.clients import Clients, Socket
from realtime.socketio.delivery import Delivery
from realtime.socketio.deployment import Deployment
from realtime.socketio.dispatch import Dispatcher, NamespacesOption
from realtime.socketio.endpoints import OperationsAPI
from realtime.socketio.flow import RateLimit
from realtime.socketio.handler_calls import in_inline_handler
from realtime.socketio.handlers import (
    ClassHandlers,
    HandlerRegistry,
    NamespaceKey,
    refuse_coroutine,
)
from realtime.socketio.managers import Manager, MemoryManager
from realtime.socketio.managers.emit_args import Target, as_exclude, as_rooms, event_packet
from realtime.socketio.managers.pubsub import PubSubManager
from realtime.socketio.ordering import PENDING_LIMIT
from realtime.socketio.recovery.log import RecoveryLog
from realtime.socketio.recovery.options import RecoveryOptions
from realtime.socketio.recovery.resume import Resumer, make_recovery_log
from realtime.socketio.server_api import Socket4API
from realtime.socketio.web_push import WebPushAPI, WebPushOption

__all__ = ["Server"]

logger = logging.getLogger("realtime.socketio")

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)


class Server(Socket4API, WebPushAPI, AdminAPI, OperationsAPI):
    """A Socket.IO v5 server, usable as a WSGI application.

    Besides python-socketio's API, it has Node's socket.io 4 server tools
    (middlewares, ``on_any``...: see :class:`~realtime.socketio.server_api.Socket4API`),
    and Web Push (``push``, ``set_user``, ``emit_to_user``...: see
    :class:`~realtime.socketio.web_push.WebPushAPI` and docs/push.md).

    Args:
        manager: where rooms live and how messages fan out (default: in this
            process's memory). ``client_manager`` is accepted as an alias.
        message_queue: a broker URL (``redis://...``, ``amqp://...``): this
            process and every other with the same URL and ``channel`` act as
            one server, and a request may land on any of them (see
            :class:`~realtime.socketio.managers.PubSubManager`).
        channel: the prefix of the deployment's broker channels.
        outbox: bounds of what waits for the broker while it is away (a dict
            of :class:`~realtime.socketio.managers.outbox.OutboxOptions`
            fields: ``max_messages``, ``max_bytes``); see docs/reliability.md.
        connection_state_recovery: True (or a dict of
            :class:`~realtime.socketio.recovery.log.RecoveryOptions` fields:
            ``max_disconnection_duration``, ``skip_middlewares``,
            ``max_packets``, ``max_bytes``) to let clients that dropped come
            back with their sid, rooms and session, and get the events they
            missed. Every event emitted without a callback then carries its
            offset as a last argument, as in Socket.IO.
        web_push: ``{"private_key": ..., "subject": "mailto:..."}`` (and any
            other :class:`~realtime.push.WebPush` option), or a ``WebPush``:
            makes :attr:`push`; subscriptions are kept in Redis when the
            message queue is Redis (see docs/push.md).
        serializer: the packet format: ``"default"`` (JSON text with binary
            attachments), ``"msgpack"`` (socket.io-msgpack-parser's), or a
            :class:`~realtime.protocol.parsers.Parser`.
        json: an object with ``dumps`` and ``loads`` (the stdlib ``json``
            module, say) used instead of orjson by the default format.
        async_handlers: run handlers on worker tasks, each client's in the
            order its packets arrived (a handler running longer than half a
            second lets the client's next ones start; see
            :mod:`realtime.socketio.ordering`). False runs them on the task that read
            the packet, which then reads nothing more until they return.
        always_connect: accept the namespace connection before the connect
            handler runs, and disconnect afterwards if it refuses.
        namespaces: namespaces clients may connect to besides those with
            handlers: ``"*"`` for any, a name, a list of names, or a callable
            ``(namespace, auth) -> bool``. ``"/"`` is always allowed.
        connect_timeout: seconds a client has to join a namespace before its
            connection is closed.
        max_pending_events: how many of one client's packets may wait for
            its handlers (with ``async_handlers``); past that, nothing more
            is read from that client until half of them were handled, so a
            client that sends faster than its handlers run is held back
            (by TCP, or its polling requests waiting) and memory stays
            bounded. See docs/messaging/p20-events.md.
        rate_limit: a limit on the events each client sends, off by
            default: ``{"events": 20, "burst": 40, "policy": "delay"}``
            (events per second, how many at once, and ``"delay"`` to hold
            the client back or ``"disconnect"`` to close it with a logged
            reason); see :mod:`realtime.socketio.flow`.
        ack_timeout: default seconds :meth:`call` waits for an answer.
        path: the URL path (``/socket.io/`` by default).
        health_path: where to answer health checks (``/health``: its
            ``/live`` and ``/ready``), or None; see :mod:`realtime.socketio.endpoints`.
        metrics_path: where to serve Prometheus metrics (``/metrics``), or
            None; needs the ``metrics`` extra. See :meth:`enable_metrics`.
        logger: True to log at INFO, or a logger to use.
        engineio_logger: the engine's ``logger`` option.
        **engine_options: options of :class:`realtime.engine.Server`
            (``async_mode``, ``ping_interval``, ``cors_allowed_origins``...).
    """

    #: The reasons a disconnect handler gets, as python-socketio's
    #: ``sio.reason`` (``reason == sio.reason.CLIENT_DISCONNECT``).
    reason = DisconnectReason

    def __init__(
        self,
        *,
        manager: Manager | None = None,
        client_manager: Manager | None = None,
        message_queue: str | None = None,
        channel: str = "socketio",
        outbox: Mapping[str, Any] | None = None,
        connection_state_recovery: bool | Mapping[str, Any] | RecoveryOptions | None = None,
        web_push: WebPushOption = None,
        serializer: str | Parser = "default",
        json: Serializer | None = None,
        async_handlers: bool = True,
        always_connect: bool = False,
        namespaces: NamespacesOption = None,
        connect_timeout: float = 45,
        max_pending_events: int = PENDING_LIMIT,
        rate_limit: RateLimit | Mapping[str, Any] | None = None,
        ack_timeout: float = 60,
        path: str = "socket.io",
        health_path: str | None = None,
        metrics_path: str | None = None,
        logger: bool | logging.Logger = False,
        engineio_logger: bool | logging.Logger = False,
        **engine_options: Any,
    ) -> None:
        self._owns_manager = manager is None and client_manager is None
        self.manager = manager or client_manager or _manager_for(message_queue, channel, outbox)
        mode = get_async_mode(engine_options.pop("async_mode", None))
        self.engine = EngineServer(
            path=path,
            async_mode=mode.name,
            async_handlers=False,
            logger=engineio_logger,
            cluster=self.manager.cluster_link(mode),
            **engine_options,
        )
        self.static_files = StaticFiles(path)
        self.mode: AsyncMode = self.engine.mode
        self.logger = _own_logger(logger)
        self.parser = get_parser(serializer, serializer=json) if json else get_parser(serializer)
        self.handlers = HandlerRegistry()
        self.ack_timeout = float(ack_timeout)
        self._acks = AckRegistry(self.mode)
        self._clients = Clients()
        #: This process's sockets by sid, to read, never to change (the Flask
        #: extension finds the socket of every handler call here).
        self.local_sockets = cast("Mapping[str, Socket]", self._clients.sockets)
        self._delivery = Delivery(self.engine.send_prepared, self.parser.encoder, self.mode)
        self._dispatcher = Dispatcher(
            self.engine,
            self.parser,
            self.handlers,
            self.manager,
            self._acks,
            self._delivery,
            self._clients,
            self.logger,
        )
        self.manager.bind(self._dispatcher)
        self._ack_requests = AckRequests(
            self._acks,
            self.manager,
            self._delivery.prepare,
            self._clients,
            self.mode,
            lambda callback, *args: self._dispatcher.run_anywhere(
                self._dispatcher.call, callback, *args
            ),
        )
        recovery = RecoveryOptions.from_option(connection_state_recovery)
        self._recovery: RecoveryLog | None = None
        if recovery is not None:
            self._recovery = make_recovery_log(
                recovery, self.mode, self._delivery.prepare, self.manager
            )
            self._dispatcher.resumer = Resumer(
                self._recovery,
                self._clients,
                self.manager,
                self.mode,
                self._dispatcher.drop,
                self.logger,
            )
        self.async_handlers = async_handlers
        self.always_connect = always_connect
        self.namespaces = namespaces
        self.connect_timeout = float(connect_timeout)
        if isinstance(max_pending_events, bool) or not isinstance(max_pending_events, int):
            raise ConfigurationError("max_pending_events must be a whole number")
        if max_pending_events < 2:
            raise ConfigurationError("max_pending_events must be at least 2")
        self._dispatcher.max_pending_events = max_pending_events
        self._dispatcher.rate_limit = RateLimit.from_option(rate_limit)
        self._deployment = Deployment(self, self._clients)
        self._setup_web_push(web_push, message_queue, channel)
        self.engine.attach(self._dispatcher)
        self._admin: InstrumentedServer | None = None
        self._setup_operations(health_path, metrics_path)

    @property
    def async_mode(self) -> str:
        """The name of the async mode the server runs on."""
        return self.mode.name

    @property
    def async_handlers(self) -> bool:
        """See the option; may be changed at any time."""
        return self._dispatcher.async_handlers

    @async_handlers.setter
    def async_handlers(self, value: bool) -> None:
        self._dispatcher.async_handlers = bool(value)

    @property
    def always_connect(self) -> bool:
        """See the option; may be changed at any time."""
        return self._dispatcher.always_connect

    @always_connect.setter
    def always_connect(self, value: bool) -> None:
        self._dispatcher.always_connect = bool(value)

    @property
    def namespaces(self) -> NamespacesOption:
        """See the option; may be changed at any time."""
        return self._dispatcher.namespaces

    @namespaces.setter
    def namespaces(self, value: NamespacesOption) -> None:
        self._dispatcher.namespaces = value

    @property
    def connect_timeout(self) -> float:
        """See the option; applies to connections opened after a change."""
        return self._dispatcher.connect_timeout

    @connect_timeout.setter
    def connect_timeout(self, value: float) -> None:
        self._dispatcher.connect_timeout = float(value)

    # -- registering handlers -------------------------------------------------

    @overload
    def on(
        self, event: str, handler: None = None, namespace: NamespaceKey | None = None
    ) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H, namespace: NamespaceKey | None = None) -> H: ...

    def on(
        self, event: str, handler: H | None = None, namespace: NamespaceKey | None = None
    ) -> H | Callable[[H], H]:
        """Register a handler for ``event`` in ``namespace`` (default ``"/"``).

        Handlers receive the client's ``sid`` first, then the event's
        arguments; the return value is sent back as the acknowledgement
        when the client asked for one. ``connect(sid, environ, auth)`` may
        return False or raise :class:`~realtime.exceptions.ConnectionRefused`
        to refuse; ``disconnect(sid, reason)`` gets a
        :class:`~realtime.engine.DisconnectReason`. The event ``"*"`` catches
        events that have no handler; the namespace ``"*"`` or a compiled
        pattern serves many namespaces (its handlers get the namespace first).

        Usable as ``@sio.on("chat")`` or ``sio.on("chat", fn)``.
        """

        def register(fn: H) -> H:
            self.handlers.add(namespace or "/", event, fn)
            return fn

        return register(handler) if handler is not None else register

    @overload
    def event(self, handler: H) -> H: ...
    @overload
    def event(self, *, namespace: NamespaceKey | None = None) -> Callable[[H], H]: ...

    def event(
        self, handler: H | None = None, *, namespace: NamespaceKey | None = None
    ) -> H | Callable[[H], H]:
        """Register a handler named after the event: ``@sio.event def chat(sid, msg)``."""
        if handler is not None:
            return self.on(handler.__name__, handler, namespace)

        def register(fn: H) -> H:
            return self.on(fn.__name__, fn, namespace)

        return register

    def register_namespace(self, namespace_handler: ClassHandlers) -> None:
        """Serve a namespace with a :class:`~realtime.Namespace` subclass instance.

        Raises:
            ConfigurationError: ``namespace_handler`` is not a namespace.
        """
        bind = getattr(namespace_handler, "_bind", None)
        if not isinstance(namespace_handler, ClassHandlers) or not callable(bind):
            raise ConfigurationError("register_namespace() needs a realtime.Namespace instance")
        bind(self)
        self.handlers.add_instance(namespace_handler)

    # -- the WSGI application -------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.handle_request(environ, start_response)

    def handle_request(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve one WSGI request: the bundled client files, the health and
        metrics endpoints, or the protocol."""
        if self._endpoints:
            answered = self._endpoints.respond(environ, start_response)
            if answered is not None:
                return answered
        if self.static_files.matches(environ):
            return self.static_files.response(environ)(start_response)
        return self.engine.handle_request(environ, start_response)

    @property
    def wsgi_app(self) -> Callable[..., Any] | None:
        """The WSGI app serving paths outside ``path`` (middleware mode)."""
        return self.engine.wsgi_app

    @wsgi_app.setter
    def wsgi_app(self, app: Callable[..., Any] | None) -> None:
        self.engine.wsgi_app = app

    # -- emitting -------------------------------------------------------------

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Target = None,
        room: Target = None,
        skip_sid: Target = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        *,
        exclude: Target = None,
        volatile: bool = False,
    ) -> None:
        """Emit an event to one client, some rooms, or the whole namespace.

        Args:
            event: the event name.
            data: one argument, or a tuple of several (None sends none).
            to: a client's sid, a room, or a list of either; None for every
                client of the namespace. ``room`` is an alias.
            skip_sid: a sid (or list of sids) that must not receive it.
            namespace: default ``"/"``.
            callback: called with each recipient's acknowledgement
                arguments, once per recipient that answers.
            ignore_queue: to this process's clients only, as python-socketio
                means it: the message queue is left out, and so is the
                recovery log (the event is not replayed after a drop).
            exclude: a room or sid, or a list of them, whose members must
                not receive it, whichever process serves them (Node's
                ``except``).
            volatile: dropped for a client whose transport cannot take it
                at once (a polling client between two requests, a backed-up
                WebSocket), never queued (Node's ``volatile``), nor kept for
                connection state recovery.

        Raises:
            ConfigurationError: ``event`` is a name Socket.IO reserves
                (``connect``, ``disconnect``...: clients drop the connection
                on receiving one), or the data holds more binary values than
                clients accept, or ``volatile`` with a ``callback``.
        """
        namespace = namespace or "/"
        rooms = as_rooms(to if to is not None else room)
        skipped = as_exclude(skip_sid) | as_exclude(exclude)
        if volatile:
            if callback is not None:
                raise ConfigurationError("a volatile event may be dropped: it takes no callback")
            if self._recovery is not None:
                # Never kept, but with the offset recovering clients expect.
                packet = event_packet(event, data, namespace)
                if ignore_queue:
                    self._recovery.emit_here(namespace, packet, rooms, skipped, volatile=True)
                else:
                    self._recovery.emit_volatile(namespace, packet, rooms, skipped)
                return
            prepared = self._delivery.prepare(event_packet(event, data, namespace), volatile=True)
            if ignore_queue:
                self.manager.broadcast_here(namespace, prepared, rooms, skipped)
            else:
                self.manager.broadcast(namespace, prepared, rooms, skipped)
            return
        if callback is None:
            packet = event_packet(event, data, namespace)
            if ignore_queue and self._recovery is not None:
                self._recovery.emit_here(namespace, packet, rooms, skipped)
            elif ignore_queue:
                prepared = self._delivery.prepare(packet)
                self.manager.broadcast_here(namespace, prepared, rooms, skipped)
            elif self._recovery is not None:
                self._recovery.emit(namespace, packet, rooms, skipped)
            else:
                self.manager.broadcast(namespace, self._delivery.prepare(packet), rooms, skipped)
            return
        refuse_coroutine(callback, "the callback")
        self._ack_requests.emit(
            namespace,
            event_packet(event, data, namespace),
            rooms,
            skipped,
            callback,
            here_only=ignore_queue,
        )

    def send(
        self,
        data: Any,
        to: Target = None,
        room: Target = None,
        skip_sid: Target = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        *,
        exclude: Target = None,
        volatile: bool = False,
    ) -> None:
        """Emit a ``message`` event (see :meth:`emit`)."""
        self.emit(
            "message",
            data,
            to,
            room,
            skip_sid,
            namespace,
            callback,
            ignore_queue,
            exclude=exclude,
            volatile=volatile,
        )

    def call(
        self,
        event: str,
        data: Any = None,
        to: Target = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = None,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit an event and wait for the acknowledgement.

        To one client (``sid=``, or ``to=`` a connected client's sid): returns
        what the client passed to its acknowledgement (None for nothing, the
        value for one argument, a tuple for several).

        To a room or a list (``to=``): returns ``{sid: answer}`` for every
        client that was in it, where a client that did not answer in time
        has an :class:`~realtime.exceptions.AckTimeout` as its answer.

        Args:
            timeout: seconds to wait (default: the server's ``ack_timeout``).
            ignore_queue: ask this process's clients only (a client another
                process serves is as good as disconnected).

        Raises:
            AckTimeout: the one client addressed did not answer in time, or
                disconnected first (also a :class:`TimeoutError`).
            ConfigurationError: no recipient was given.
        """
        namespace = namespace or "/"
        packet = event_packet(event, data, namespace)
        if in_inline_handler():
            raise ConfigurationError(
                "call() cannot wait inside a handler when async_handlers is False: "
                "the answer would arrive on the very task running the handler"
            )
        wait = self.ack_timeout if timeout is None else float(timeout)
        if sid is None and to is None:
            raise ConfigurationError("call() needs a recipient: sid=..., or to= a sid or room")
        return self._ack_requests.call(namespace, packet, to, sid, wait, here_only=ignore_queue)

    # -- rooms ----------------------------------------------------------------

    def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put client ``sid`` in ``room``."""
        self.manager.enter_room(namespace or "/", SocketSid(sid), room)

    def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take client ``sid`` out of ``room`` (its own room it never leaves)."""
        if room != sid:
            self.manager.leave_room(namespace or "/", SocketSid(sid), room)

    def close_room(
        self, room: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Take every client out of ``room`` (``ignore_queue``: this process's only)."""
        if ignore_queue:
            self.manager.close_room_here(namespace or "/", room)
        else:
            self.manager.close_room(namespace or "/", room)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms client ``sid`` is in (its own sid first).

        In its disconnect handler, the rooms it was in when it left.
        """
        socket = self._clients.sockets.get(SocketSid(sid))
        if socket is not None and socket.leaving and socket.namespace == (namespace or "/"):
            return list(socket.rooms_at_exit)
        return self.manager.rooms(namespace or "/", SocketSid(sid))

    # -- per-client data ------------------------------------------------------

    def namespace_of(self, sid: str) -> str | None:
        """The namespace client ``sid`` is in (each sid is in exactly one)."""
        socket = self._clients.sockets.get(SocketSid(sid))
        return None if socket is None else socket.namespace

    def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The per-client dict of ``sid``, kept until its disconnect handler returns.

        Raises:
            KeyError: no such client in that namespace.
        """
        return self._clients.socket(sid, namespace).session

    def save_session(
        self, sid: str, session: Mapping[str, Any], namespace: str | None = None
    ) -> None:
        """Replace the per-client dict of ``sid``.

        Raises:
            KeyError: no such client in that namespace.
        """
        socket = self._clients.socket(sid, namespace)
        socket.session = dict(session)
        if self._dispatcher.resumer is not None:
            self._dispatcher.resumer.touched(socket, urgent=True)

    @contextlib.contextmanager
    def session(self, sid: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """``with sio.session(sid) as s:`` edits the per-client dict and saves it."""
        data = self.get_session(sid, namespace)
        yield data
        self.save_session(sid, data, namespace)

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The WSGI environ of the request that opened ``sid``'s connection.

        Available from the connect handler until the disconnect handler
        returns, also when the connection closed first.

        Raises:
            KeyError: no such client in that namespace.
        """
        return self._clients.socket(sid, namespace).environ

    def recovered(self, sid: str, namespace: str | None = None) -> bool:
        """True if client ``sid`` resumed, with connection state recovery, a
        connection that had dropped (and got back its sid, rooms, session and
        the events it missed).

        Raises:
            KeyError: no such client in that namespace.
        """
        return self._clients.socket(sid, namespace).recovered

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """The transport client ``sid`` is on: ``polling``, ``websocket``,
        ``sse``, ``streaming``, or ``local`` for an in-process test client.

        In the disconnect handler, the one it was on.

        Raises:
            KeyError: no such client in that namespace.
        """
        socket = self._clients.socket(sid, namespace)
        if socket.leaving:
            if socket.last_transport is None:
                raise KeyError(f"client {sid} has left")
            return socket.last_transport
        return self.engine.transport(socket.eio_sid)

    # -- disconnecting --------------------------------------------------------

    def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Disconnect client ``sid`` from a namespace; the client is told why.

        A client another process serves is disconnected there, unless
        ``ignore_queue`` (this process's clients only, as in python-socketio).
        """
        socket = self._clients.sockets.get(SocketSid(sid))
        if socket is None:
            if not ignore_queue:
                self.manager.disconnect_elsewhere(sid, namespace or "/")
        elif socket.namespace == (namespace or "/") and not socket.leaving:
            self._dispatcher.close_socket(
                socket, DisconnectReason.SERVER_DISCONNECT, tell_client=True
            )

    def shutdown(self) -> None:
        """Disconnect every client and stop the server's background tasks."""
        self._stop_operations()
        if self._admin is not None:
            self._admin.shutdown()
        self.engine.shutdown()
        if self._recovery is not None:
            self._recovery.close()
        if self._owns_manager:
            self.manager.close()
        if self._push is not None:
            self._push.close()

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``target`` as a task of the server's async mode.

        Raises:
            ConfigurationError: ``target`` is a coroutine function (``async def``).
        """
        refuse_coroutine(target, "the background task")
        return self.mode.spawn(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        """Sleep without blocking the other tasks of the async mode."""
        self.mode.sleep(seconds)


def _manager_for(
    message_queue: str | None, channel: str, outbox: Mapping[str, Any] | None
) -> Manager:
    if message_queue is None:
        if outbox is not None:
            raise ConfigurationError("outbox applies to a message_queue, and none is given")
        return MemoryManager()
    return PubSubManager(message_queue, channel, outbox=outbox)


def _own_logger(option: bool | logging.Logger) -> logging.Logger:
    if isinstance(option, logging.Logger):
        return option
    if option and logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger
