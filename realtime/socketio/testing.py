"""A Socket.IO client in the same process as the server, for tests.

:class:`LocalClient` connects over an in-process Engine.IO session: the
packets are encoded, decoded and dispatched by the same code as for a remote
client, with no network. Handlers run on the calling thread (the server's
``async_handlers`` is turned off while a local client exists, as
Flask-SocketIO's test client does), so what a handler emits is there to read
as soon as :meth:`LocalClient.emit` returns, and what a handler raises (and
no error handler of the application took) is raised by the call that sent
the event, as with Flask-SocketIO's test client: a broken handler fails its
test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from realtime.exceptions import ConfigurationError
from realtime.protocol.engineio import Packet
from realtime.protocol.socketio import SioPacket, SioPacketType
from realtime.socketio.handler_calls import handler_errors_raise

if TYPE_CHECKING:
    from realtime.socketio.server import Server

__all__ = ["LocalClient", "Received"]

#: One received event: ``{"name": ..., "args": [...], "namespace": ...}``.
Received = dict[str, Any]


class LocalClient:
    """An in-process Socket.IO client of ``server``.

    Args:
        server: the server to connect to.
        environ: the WSGI environ the connect handler sees (a minimal GET
            request by default).
        namespace: the namespace to join at once (None to join none).
        auth: the auth payload of that first CONNECT.
    """

    def __init__(
        self,
        server: Server,
        environ: dict[str, Any] | None = None,
        namespace: str | None = "/",
        auth: Any = None,
    ) -> None:
        self.server = server
        server.async_handlers = False
        self._encoder = server.parser.encoder
        self._decoder = server.parser.make_decoder()
        self._received: list[Received] = []
        # Server tasks (a background task's emits) append while the test reads.
        self._received_lock = server.mode.lock()
        self._acks: dict[int, list[Any]] = {}
        self._next_id = 0
        self.namespaces: dict[str, str] = {}
        # Namespaces whose events carry a recovery offset as a last argument.
        self._offsets: set[str] = set()
        self.connect_errors: dict[str, Any] = {}
        self.eio_sid = server.engine.connect_local(
            environ if environ is not None else _default_environ(),
            self._on_packets,
            self._on_close,
        )
        if self.eio_sid is not None and namespace is not None:
            self.connect(namespace, auth)

    # -- what the server sends ------------------------------------------------

    def _on_packets(self, packets: Sequence[Packet]) -> None:
        for packet in packets:
            decoded = self._decoder.feed(packet.data)
            if decoded is not None:
                self._on_packet(decoded)

    def _on_packet(self, packet: SioPacket) -> None:
        kind, namespace = packet.type, packet.namespace
        if kind is SioPacketType.CONNECT:
            data = packet.data or {}
            self.namespaces[namespace] = data.get("sid", "")
            if "pid" in data:
                self._offsets.add(namespace)
            self.connect_errors.pop(namespace, None)
        elif kind is SioPacketType.CONNECT_ERROR:
            self.namespaces.pop(namespace, None)
            self.connect_errors[namespace] = packet.data
        elif kind is SioPacketType.DISCONNECT:
            self.namespaces.pop(namespace, None)
        elif kind is SioPacketType.EVENT or kind is SioPacketType.BINARY_EVENT:
            args = packet.args
            if namespace in self._offsets and packet.id is None and args:
                args = args[:-1]  # as realtime.js does: the offset is not the app's
            event = {"name": packet.event_name, "args": args, "namespace": namespace}
            with self._received_lock:
                self._received.append(event)
        elif packet.id is not None:
            self._acks[packet.id] = packet.args

    def _on_close(self) -> None:
        self.namespaces.clear()
        self.eio_sid = None

    # -- the client's API -----------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the in-process Engine.IO session is open."""
        return self.eio_sid is not None

    def is_connected(self, namespace: str = "/") -> bool:
        """True while joined to ``namespace``."""
        return namespace in self.namespaces

    def sid(self, namespace: str = "/") -> str | None:
        """The Socket.IO sid the server gave this client in ``namespace``."""
        return self.namespaces.get(namespace)

    def connect(self, namespace: str = "/", auth: Any = None) -> bool:
        """Join ``namespace``; True if the server accepted."""
        self._send(SioPacket(SioPacketType.CONNECT, namespace, auth))
        return namespace in self.namespaces

    def disconnect(self, namespace: str | None = None) -> None:
        """Leave ``namespace``, or close the whole connection for None."""
        if self.eio_sid is None:
            return
        if namespace is None:
            with handler_errors_raise():
                self.server.engine.close_local(self.eio_sid)
            return
        self._send(SioPacket(SioPacketType.DISCONNECT, namespace))
        self.namespaces.pop(namespace, None)

    def emit(self, event: str, *args: Any, namespace: str = "/", callback: bool = False) -> Any:
        """Emit an event; with ``callback=True``, return the server's acknowledgement.

        The acknowledgement is None for no arguments, the argument for one,
        a list for several (as Flask-SocketIO's test client returns it).
        """
        ack_id = None
        if callback:
            self._next_id += 1
            ack_id = self._next_id
        self._send(SioPacket(SioPacketType.EVENT, namespace, [event, *args], ack_id))
        if ack_id is None:
            return None
        answer = self._acks.pop(ack_id, None)
        if answer is None:
            return None
        return answer[0] if len(answer) == 1 else answer

    def send(self, data: Any, namespace: str = "/", callback: bool = False) -> Any:
        """Emit a ``message`` event."""
        return self.emit("message", data, namespace=namespace, callback=callback)

    def get_received(self, namespace: str | None = None) -> list[Received]:
        """The events received (from ``namespace`` only, if given), emptied on read."""
        with self._received_lock:
            if namespace is None:
                received, self._received = self._received, []
                return received
            mine = [r for r in self._received if r["namespace"] == namespace]
            self._received = [r for r in self._received if r["namespace"] != namespace]
            return mine

    def _send(self, packet: SioPacket) -> None:
        if self.eio_sid is None:
            raise ConfigurationError("the local client is not connected")
        with handler_errors_raise():
            for part in self._encoder.encode(packet):
                self.server.engine.receive_local(self.eio_sid, part)


def _default_environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4&transport=local",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
    }
