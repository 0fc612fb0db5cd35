"""What the Socket.IO server does with each client's packets and connection.

The engine hands over each client's messages in order; here they are decoded
and dispatched: namespace connections (with the connect handler and its
answer), events (with their acknowledgements), acknowledgements of the
server's own events, and disconnections from either side. Handlers run on
the connection's :class:`~realtime.socketio.ordering.OrderedRunner` (or inline, with
``async_handlers=False``).

Spec: https://github.com/socketio/socket.io-protocol (v5).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from realtime.engine import DisconnectReason
from realtime.engine.outgoing import Outgoing
from realtime.exceptions import (
    BrokerUnavailable,
    ConnectionRefused,
    EventRefused,
    PacketDecodeError,
)
from realtime.protocol.parsers import Parser
from realtime.protocol.socketio import SioPacket, SioPacketType, SocketSid
from realtime.socketio.acks import AckRegistry, Waiter
from realtime.socketio.clients import Clients, Connection, Socket, SocketState
from realtime.socketio.flow import RateLimit, Throttle
from realtime.socketio.handler_calls import INLINE, RAISING, arity_mismatch
from realtime.socketio.handlers import HandlerRegistry, Resolved, fit_arguments
from realtime.socketio.managers.emit_args import as_args
from realtime.socketio.middlewares import REJECTED, Middlewares, refusal_of
from realtime.socketio.monitoring import Monitors
from realtime.socketio.ordering import PENDING_LIMIT, OrderedRunner
from realtime.socketio.recovery.options import RECOVERABLE_REASONS
from realtime.socketio.recovery.resume import Resumer, strip_recovery_fields

if TYPE_CHECKING:
    from realtime.engine import Server as EngineServer
    from realtime.engine.session import Backlogged
    from realtime.protocol.engineio import EngineSid
    from realtime.socketio.delivery import Delivery
    from realtime.socketio.managers import Manager
    from realtime.socketio.managers.base import Members

__all__ = [
    "INVALID_NAMESPACE",
    "REJECTED",
    "Dispatcher",
    "NamespacesOption",
]

#: CONNECT_ERROR messages, as the reference server words them.
INVALID_NAMESPACE = "Invalid namespace"

NamespacesOption = str | list[str] | tuple[str, ...] | set[str] | Callable[[str, Any], bool] | None

# The packet types, read once: in Python 3.11 each ``SioPacketType.X`` on
# the class is a lookup through the enum's metaclass, ten times a plain
# global's cost, and the path of every event names several.
_CONNECT = SioPacketType.CONNECT
_CONNECT_ERROR = SioPacketType.CONNECT_ERROR
_DISCONNECT = SioPacketType.DISCONNECT
_EVENT = SioPacketType.EVENT
_BINARY_EVENT = SioPacketType.BINARY_EVENT
_ACK = SioPacketType.ACK
_BINARY_ACK = SioPacketType.BINARY_ACK
_SOCKET_CONNECTED = SocketState.CONNECTED


class _Failed:
    """A handler raised: no acknowledgement is sent."""


FAILED = _Failed()


class Dispatcher:
    """Turns each connection's packets into handler calls and replies.

    Args:
        engine: the Engine.IO server below.
        parser: the packet format.
        handlers: the registered handlers.
        manager: rooms and fan-out.
        acks: pending acknowledgements of the server's events.
        delivery: how packets reach connections.
        clients: the connections and sockets of this process.
        logger: the messaging layer's logger.
    """

    def __init__(
        self,
        engine: EngineServer,
        parser: Parser,
        handlers: HandlerRegistry,
        manager: Manager,
        acks: AckRegistry,
        delivery: Delivery,
        clients: Clients,
        logger: logging.Logger,
    ) -> None:
        self.engine = engine
        self.mode = engine.mode
        self.parser = parser
        self.handlers = handlers
        self.manager = manager
        self.acks = acks
        self.delivery = delivery
        self.clients = clients
        self.logger = logger
        self.async_handlers = True
        self.always_connect = False
        self.namespaces: NamespacesOption = None
        self.connect_timeout = 45.0
        self.max_pending_events = PENDING_LIMIT
        #: The ``rate_limit`` option, and each connection's bucket when it is on.
        self.rate_limit: RateLimit | None = None
        self._throttles: dict[EngineSid, Throttle] = {}
        #: Connection state recovery, when it is on.
        self.resumer: Resumer | None = None
        #: The application's middlewares and on_any listeners.
        self.middlewares = Middlewares(logger, RAISING.get)
        #: Who watches the server (the admin UI, metrics).
        self.monitors = Monitors(logger)
        #: Told of each client refused a socket by a connect handler or a
        #: middleware (its namespace), or for a namespace not served (None).
        self.on_refused: Callable[[str | None], None] | None = None

    # -- from the engine (the EngineListener port) -------------------------------

    def session_opened(self, eio_sid: EngineSid, environ: dict[str, Any]) -> None:
        connection = Connection(
            eio_sid,
            environ,
            self.parser.make_decoder(),
            OrderedRunner(self.mode, self.engine.scheduler, limit=self.max_pending_events),
        )
        self.clients.connections[eio_sid] = connection
        if self.rate_limit is not None:
            self._throttles[eio_sid] = Throttle(self.rate_limit, self.mode, self.engine.scheduler)
        connection.connect_timer = self.engine.scheduler.call_later(
            self.connect_timeout, lambda now: self._connect_timed_out(connection)
        )
        if self.monitors:
            self.monitors.session_opened(eio_sid, environ)

    def _connect_timed_out(self, connection: Connection) -> None:
        if not any(s.connected for s in connection.sockets.values()):
            self.logger.info(
                "connection %s joined no namespace within %s s; closing it",
                connection.eio_sid,
                self.connect_timeout,
            )
            self.engine.disconnect(connection.eio_sid)

    def message_received(self, eio_sid: EngineSid, data: str | bytes) -> None:
        connection = self.clients.connections.get(eio_sid)
        if connection is None:
            return
        if self.monitors:
            self.monitors.message_received(eio_sid, len(data))
        try:
            packet = connection.decoder.feed(data)
        except PacketDecodeError as exc:
            self._protocol_error(connection, str(exc))
            return
        if packet is not None:
            self._dispatch(connection, packet)

    def _dispatch(self, connection: Connection, packet: SioPacket) -> None:
        kind = packet.type
        if kind is _CONNECT:
            self._run(connection, self._connect, connection, packet)
            return
        if kind is _CONNECT_ERROR:
            self._protocol_error(connection, "a client may not send CONNECT_ERROR")
            return
        socket = connection.sockets.get(packet.namespace)
        if socket is None or socket.state is not _SOCKET_CONNECTED:
            self.logger.debug(
                "dropped a %s packet for namespace %s, which %s has not joined",
                kind.name,
                packet.namespace,
                connection.eio_sid,
            )
            return
        if kind is _EVENT or kind is _BINARY_EVENT:
            if self._throttles:
                throttle = self._throttles.get(connection.eio_sid)
                if throttle is not None and not throttle.take() and throttle.policy != "delay":
                    self._over_rate(connection)
                    return
            socket.received += 1
            if self.monitors:
                self.monitors.event_received(socket)
            if self.resumer is not None:
                self.resumer.touched(socket, urgent=False)
            self._run(connection, self._event, socket, packet)
        elif kind is _ACK or kind is _BINARY_ACK:
            # Resolved here, on the reading task: a handler that waits in
            # call() for this very answer must not wait behind itself.
            callback = self.acks.resolve(socket.sid, packet.id or 0, packet.args)
            if callback is not None and not isinstance(callback, Waiter):
                self._run(connection, callback, packet.args)
        elif kind is _DISCONNECT:
            self.close_socket(socket, DisconnectReason.CLIENT_DISCONNECT, tell_client=False)

    def flow_control(self, eio_sid: EngineSid) -> Backlogged | None:
        connection = self.clients.connections.get(eio_sid)
        if connection is None:
            return None
        backlogged = connection.runner.backlogged
        throttle = self._throttles.get(eio_sid)
        if throttle is None:
            return backlogged
        paused = throttle.paused

        def held_back(resume: Callable[[], None]) -> bool:
            return backlogged(resume) or paused(resume)

        return held_back

    def _over_rate(self, connection: Connection) -> None:
        """Close a client that sent events faster than ``rate_limit`` allows
        (its ``disconnect`` policy), as a server-side disconnect: the official
        clients do not reconnect on their own after it."""
        limit = self.rate_limit
        self.logger.warning(
            "closing %s: it sent events faster than rate_limit allows (%s per second, %s at once)",
            connection.eio_sid,
            limit.events if limit is not None else "?",
            limit.burst if limit is not None else "?",
        )
        for socket in list(connection.sockets.values()):
            self.close_socket(socket, DisconnectReason.SERVER_DISCONNECT, tell_client=True)
        self.engine.disconnect(connection.eio_sid)

    def session_closed(self, eio_sid: EngineSid, reason: DisconnectReason) -> None:
        self.delivery.forget(eio_sid)
        if self._throttles:
            self._throttles.pop(eio_sid, None)
        connection = self.clients.connections.pop(eio_sid, None)
        if connection is None:
            return
        if connection.connect_timer is not None:
            connection.connect_timer.cancel()
        dropped = reason in RECOVERABLE_REASONS
        for socket in list(connection.sockets.values()):
            self.close_socket(socket, reason, tell_client=False, dropped=dropped)
        if self.monitors:
            self.monitors.session_closed(eio_sid, reason)

    def _protocol_error(self, connection: Connection, detail: str) -> None:
        self.logger.warning(
            "closing connection %s: invalid Socket.IO packet (%s)", connection.eio_sid, detail
        )
        self.engine.disconnect(connection.eio_sid, reason=DisconnectReason.TRANSPORT_ERROR)

    # -- joining a namespace ----------------------------------------------------

    def _connect(self, connection: Connection, packet: SioPacket) -> None:
        namespace, auth = packet.namespace, packet.data
        eio_sid = connection.eio_sid
        existing = connection.sockets.get(namespace)
        if existing is not None:
            if existing.connected:
                self.delivery.packet(eio_sid, SioPacket.connect(namespace, {"sid": existing.sid}))
            return
        resumer = self.resumer
        if resumer is not None:
            auth = strip_recovery_fields(auth)
        resolved = self.handlers.resolve(namespace)
        if resolved is None and not self._namespace_allowed(namespace, auth):
            self.delivery.packet(eio_sid, SioPacket.connect_error(namespace, INVALID_NAMESPACE))
            if self.on_refused is not None:
                self.on_refused(None)
            return
        self.delivery.hold(eio_sid, namespace)
        try:
            socket, missed = self._new_or_resumed(connection, packet, auth)
        except BrokerUnavailable as exc:
            # Its state may be elsewhere: a fresh socket would lose it. The
            # client reconnects and asks again.
            self.delivery.release(eio_sid, namespace, None, keep=False)
            self.logger.info(
                "cannot resume a socket of %s now (%s); closing the connection for it to retry",
                eio_sid,
                exc,
            )
            # A close packet, as for any server close: the client reconnects
            # (it would not after a Socket.IO DISCONNECT).
            self.engine.disconnect(eio_sid)
            return
        if self.clients.connections.get(eio_sid) is not connection:
            # The session closed while the socket was looked up (a resume
            # can wait seconds for another connection to let it go):
            # registered now, it would stay connected and unreachable.
            self.delivery.release(eio_sid, namespace, None, keep=False)
            self._abandon(socket)
            return
        connection.sockets[namespace] = socket
        self.clients.sockets[socket.sid] = socket
        self._admit(connection, socket, resolved, auth, missed)

    def _abandon(self, socket: Socket) -> None:
        """Undo a socket whose connection closed before it was admitted: a
        resumed one is kept for its client's next try, as a dropped one."""
        rooms = self.manager.rooms(socket.namespace, socket.sid)
        socket.leave(rooms, None, dropped=socket.recovered)
        self._end(socket)

    def _new_or_resumed(
        self, connection: Connection, packet: SioPacket, auth: Any
    ) -> tuple[Socket, list[Outgoing]]:
        """The socket a CONNECT asks for: the one it resumes, or a fresh one;
        and what a resumed one missed."""
        resumer, namespace, eio_sid = self.resumer, packet.namespace, connection.eio_sid
        if resumer is not None and isinstance(packet.data, dict):
            resumed = resumer.resume(connection, namespace, packet.data)
            if self.monitors and "pid" in packet.data:
                self.monitors.recovery_attempted(namespace, resumed is not None)
            if resumed is not None:
                return resumed.socket, resumed.missed
        sid = SocketSid(self.engine.node_id + secrets.token_urlsafe(12))
        socket = Socket(sid, namespace, eio_sid, connection.environ, auth=auth)
        if resumer is not None:
            resumer.join(socket)
        else:
            self.manager.add(namespace, sid, eio_sid)
        return socket, []

    def _admit(
        self,
        connection: Connection,
        socket: Socket,
        resolved: Resolved | None,
        auth: Any,
        missed: list[Outgoing],
    ) -> None:
        """Run the connect handler of a joining socket and answer the CONNECT."""
        namespace, eio_sid, resumer = socket.namespace, socket.eio_sid, self.resumer
        welcome = resumer.welcome(socket) if resumer is not None else {"sid": socket.sid}
        early = self.always_connect and not socket.recovered
        if early:
            self.delivery.send_now(eio_sid, SioPacket.connect(namespace, welcome))
        reply: Outgoing | None = None
        try:
            refusal = self.run_connect_handler(resolved, socket, auth)
            if socket.leaving:
                # Its connection closed while the handler ran: no one to answer.
                return
            if refusal is not None and socket.recovered and self._keeps_resumed(socket):
                refusal = None
            if refusal is not None:
                self._end(socket)  # its recovery record goes too
                if self.on_refused is not None:
                    self.on_refused(namespace)
                if early:
                    reply = self.delivery.prepare(SioPacket.disconnect(namespace))
                else:
                    reply = self.refusal(namespace, *refusal)
            else:
                socket.accept()
                self.connected(connection)
                if self.monitors:
                    self.monitors.socket_connected(socket)
                if not early:
                    reply = self.delivery.prepare(SioPacket.connect(namespace, welcome))
        finally:
            self.delivery.release(eio_sid, namespace, reply, keep=socket.connected, then=missed)

    def _keeps_resumed(self, socket: Socket) -> bool:
        """Whether a resumed socket stays although its connect handler refused it."""
        if self.resumer is None or not self.resumer.options.skip_middlewares:
            return False
        self.logger.info(
            "the connect handler refused %s, which resumed a dropped connection; "
            "kept (skip_middlewares is on)",
            socket.sid,
        )
        return True

    def connected(self, connection: Connection) -> None:
        """A namespace of ``connection`` accepted it: the connect timeout is over."""
        if connection.connect_timer is not None:
            connection.connect_timer.cancel()
            connection.connect_timer = None

    def refusal(self, namespace: str, message: str, data: Any) -> Outgoing:
        """The CONNECT_ERROR of a refusal; without its data if that cannot be encoded."""
        try:
            return self.delivery.prepare(SioPacket.connect_error(namespace, message, data))
        except (TypeError, ValueError):
            self.logger.exception(
                "the data of a refusal in %s cannot be encoded; the client gets the message only",
                namespace,
            )
            return self.delivery.prepare(SioPacket.connect_error(namespace, message))

    def _namespace_allowed(self, namespace: str, auth: Any) -> bool:
        allowed = self.namespaces
        if namespace == "/" or allowed == "*":
            return True
        if callable(allowed):
            return bool(allowed(namespace, auth))
        if isinstance(allowed, str):
            return namespace == allowed
        return allowed is not None and namespace in allowed

    def run_connect_handler(
        self, resolved: Resolved | None, socket: Socket, auth: Any
    ) -> tuple[str, Any] | None:
        """Run the connection middlewares (unless a recovered socket skips
        them), then the connect handler; the refusal (message, data), if any."""
        resumer = self.resumer
        skip = socket.recovered and resumer is not None and resumer.options.skip_middlewares
        if self.middlewares.connection and not skip:
            refusal = self.middlewares.admit(socket.namespace, socket.sid, socket.environ, auth)
            if refusal is not None:
                return refusal
        found = resolved.find("connect") if resolved is not None else None
        if found is None:
            return None
        handler, prefix = found
        arguments = fit_arguments(handler, (socket.sid, socket.environ, auth), prefix)
        try:
            accepted = handler(*prefix, *arguments)
        except (ConnectionRefused, ConnectionRefusedError) as exc:
            return refusal_of(exc)
        except Exception:
            if RAISING.get():
                raise
            self.logger.exception("error in the connect handler of %s", socket.namespace)
            return (REJECTED, None)
        if accepted is False:
            return (REJECTED, None)
        return None

    # -- leaving a namespace ------------------------------------------------------

    def close_socket(
        self,
        socket: Socket,
        reason: DisconnectReason,
        *,
        tell_client: bool,
        dropped: bool = False,
    ) -> None:
        """Take ``socket`` out of its namespace; its disconnect handler runs after
        the handlers of events that arrived before.

        ``dropped``: its connection was lost, so it may be recovered.
        """
        connection = self.clients.connections.get(socket.eio_sid)
        if connection is not None and connection.sockets.get(socket.namespace) is socket:
            del connection.sockets[socket.namespace]
        if socket.leaving or self.clients.sockets.get(socket.sid) is not socket:
            return
        # Out of every room before the handler runs, so no broadcast (not even
        # one the handler sends to its rooms) reaches a client that left; the
        # handler still reads its rooms and transport as they were.
        try:
            transport: str | None = self.engine.transport(socket.eio_sid)
        except KeyError:
            transport = None
        rooms = self.manager.rooms(socket.namespace, socket.sid)
        # Only a socket its client knows (connected, or resumed) can come back.
        keep = dropped and (socket.connected or socket.recovered)
        was_connected = socket.leave(rooms, transport, dropped=keep)
        self.manager.remove(socket.namespace, socket.sid)
        self.acks.drop(socket.sid)
        if tell_client:
            self.delivery.packet(socket.eio_sid, SioPacket.disconnect(socket.namespace))
        if was_connected and self.monitors:
            self.monitors.socket_disconnected(socket, reason)
        if was_connected and connection is not None:
            self._run(connection, self._finish_disconnect, socket, reason)
        elif was_connected:
            self.run_anywhere(self._finish_disconnect, socket, reason)
        else:
            # Closed while joining (its connect handler runs, say).
            self._end(socket)

    def drop(self, socket: Socket, reason: DisconnectReason) -> None:
        """Close the connection that holds ``socket``, as lost (``reason``).

        A socket whose connection is gone already, which nothing would ever
        close, is closed itself, as dropped: its client can resume it.
        """
        if self.engine.is_connected(socket.eio_sid):
            self.engine.disconnect(socket.eio_sid, reason=reason)
        else:
            self.close_socket(socket, reason, tell_client=False, dropped=True)

    def _finish_disconnect(self, socket: Socket, reason: DisconnectReason) -> None:
        try:
            resolved = self.handlers.resolve(socket.namespace)
            # "disconnecting" first (its rooms are those it left), then "disconnect".
            for name in ("disconnecting", "disconnect"):
                found = resolved.find(name) if resolved is not None else None
                if found is not None:
                    handler, prefix = found
                    arguments = fit_arguments(handler, (socket.sid, reason), prefix)
                    self.call(handler, *prefix, *arguments)
        finally:
            self._end(socket)

    def _end(self, socket: Socket) -> None:
        """Nothing of ``socket`` stays here: forgotten, its recovery state kept
        (it dropped) or let go (it left, or never connected), and whoever
        waits for it woken."""
        self.forget_socket(socket)
        if self.resumer is not None:
            self.resumer.on_exit(socket)
        socket.finish()

    def forget_socket(self, socket: Socket) -> None:
        """Drop every trace of ``socket`` in this process."""
        self.manager.remove(socket.namespace, socket.sid)
        if self.clients.sockets.get(socket.sid) is socket:
            del self.clients.sockets[socket.sid]
        if socket.pid is not None and self.clients.pids.get(socket.pid) is socket:
            del self.clients.pids[socket.pid]
        connection = self.clients.connections.get(socket.eio_sid)
        if connection is not None and connection.sockets.get(socket.namespace) is socket:
            del connection.sockets[socket.namespace]

    # -- events -------------------------------------------------------------------

    def _event(self, socket: Socket, packet: SioPacket) -> None:
        data = packet.data
        if type(data) is list and data and type(data[0]) is str:
            event, args = data[0], data[1:]
        else:
            event, args = packet.event_name or "", packet.args
        namespace = socket.namespace
        if self.middlewares.screening:
            screened = self.middlewares.screen(namespace, socket.sid, event, args)
            if isinstance(screened, EventRefused):
                self._refused(socket, packet, event, screened)
                return
            event, args = screened
        resolved = self.handlers.resolve(namespace)
        if resolved is None:
            self.logger.debug("no handler for event %r in %s", event, namespace)
            return
        handler = None if resolved.dynamic else resolved.handlers.get(event)
        if handler is not None:
            prefix: tuple[Any, ...] = ()
        else:
            found = resolved.find(event)
            if found is None:
                self.logger.debug("no handler for event %r in %s", event, namespace)
                return
            handler, prefix = found
        try:
            result = handler(*prefix, socket.sid, *args)
        except Exception as exc:
            if RAISING.get():
                raise
            if arity_mismatch(exc):
                # The client's mistake, not a bug: one line, no traceback.
                self.logger.warning(
                    "event %r from %s in %s: the handler does not take the %d argument(s) "
                    "the client sent (%s)",
                    event,
                    socket.sid,
                    namespace,
                    len(args),
                    exc,
                )
            else:
                self.logger.exception("error in handler %s", _name(handler))
            return
        if packet.id is not None:
            ack = SioPacket(_ACK, namespace, as_args(result), packet.id)
            self.delivery.packet(socket.eio_sid, ack)

    def _refused(
        self, socket: Socket, packet: SioPacket, event: str, refusal: EventRefused
    ) -> None:
        """An event middleware refused the event: its ack carries the refusal's answer."""
        self.logger.debug("event %r from %s in %s refused", event, socket.sid, socket.namespace)
        if packet.id is not None and refusal.answer:
            ack = SioPacket(_ACK, socket.namespace, refusal.answer, packet.id)
            self.delivery.packet(socket.eio_sid, ack)

    def call(self, handler: Callable[..., Any], *args: Any) -> Any:
        """Run a handler; log what it raises and return :data:`FAILED` then
        (under :func:`handler_errors_raise`, let it propagate)."""
        try:
            return handler(*args)
        except Exception:
            if RAISING.get():
                raise
            self.logger.exception("error in handler %s", _name(handler))
            return FAILED

    def _run(self, connection: Connection, fn: Callable[..., Any], *args: Any) -> None:
        if self.async_handlers:
            connection.runner.submit(fn, *args)
        else:
            token = INLINE.set(True)
            try:
                fn(*args)
            finally:
                INLINE.reset(token)

    def run_anywhere(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.async_handlers:
            self.mode.submit(fn, *args)
        else:
            fn(*args)

    # -- for the manager (the ManagerHost port) -----------------------------------

    def deliver(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> bool:
        if self.middlewares.watching_outgoing:
            self.outgoing_seen(namespace, eio_sid, outgoing)
        if self.monitors:
            self.monitors.delivered(namespace, eio_sid, outgoing)
        return self.delivery.deliver(namespace, eio_sid, outgoing)

    def outgoing_seen(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> None:
        """A message goes to a client of this process: the outgoing listeners hear of it."""
        connection = self.clients.connections.get(eio_sid)
        socket = connection.sockets.get(namespace) if connection is not None else None
        if socket is not None:
            self.middlewares.delivered(namespace, socket.sid, outgoing, self.parser)

    def ask(
        self,
        namespace: str,
        packet: SioPacket,
        members: Members,
        pending: Callable[[SocketSid], Callable[[list[Any]], None]],
    ) -> None:
        ack_id = self.acks.new_id()
        for sid, _ in members:
            self.acks.expect([sid], ack_id, pending(sid))
        self.manager.deliver(namespace, self.delivery.prepare(packet.with_id(ack_id)), members)

    def disconnect(self, sid: str, namespace: str) -> None:
        socket = self.clients.sockets.get(SocketSid(sid))
        if socket is not None and socket.namespace == namespace and not socket.leaving:
            self.close_socket(socket, DisconnectReason.SERVER_DISCONNECT, tell_client=True)


def _name(handler: Callable[..., Any]) -> str:
    return str(getattr(handler, "__name__", handler))
