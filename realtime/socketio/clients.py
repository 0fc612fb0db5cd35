"""The state of a Socket.IO client, kept as plain data.

A :class:`Connection` is one Engine.IO session; a :class:`Socket` is that
connection joined to one namespace. Everything a socket needs to go on (its
sid, namespace, user session) is plain, serializable data (architecture rule
5), so it can later move between processes or come back after a drop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from realtime.protocol.socketio import SocketSid

if TYPE_CHECKING:
    from realtime.engine.scheduler import TimerHandle
    from realtime.protocol.engineio import EngineSid
    from realtime.protocol.socketio import PacketDecoder
    from realtime.socketio.ordering import OrderedRunner

__all__ = ["Clients", "Connection", "Socket"]


@dataclass(eq=False)
class Socket:
    """One client in one namespace.

    Attributes:
        sid: the Socket.IO session id (distinct from the Engine.IO one).
        namespace: the namespace it joined.
        eio_sid: the Engine.IO session carrying it.
        environ: the WSGI environ of the request that opened the connection.
        session: the application's per-connection data (``get_session``).
        connected: True once the connect handler accepted it.
        auth: the auth payload of the CONNECT packet.
        leaving: the socket is disconnecting; its disconnect handler may run.
        rooms_at_exit: the rooms it was in when it started leaving (it is
            already out of them, so no broadcast reaches it).
        last_transport: its transport when it started leaving.
        pid: its private id, with connection state recovery on.
        recovered: it took over the state of a socket that had dropped.
        first_offset: the recovery log's position when it joined.
        received: events received from the client (recovered ones included).
        finished: set once it is gone (its disconnect handler returned).
        dropped: it left because its connection was lost, not on purpose, so
            it may be recovered.
    """

    sid: SocketSid
    namespace: str
    eio_sid: EngineSid
    environ: dict[str, Any]
    session: dict[str, Any] = field(default_factory=dict)
    connected: bool = False
    auth: Any = None
    leaving: bool = False
    rooms_at_exit: list[str] = field(default_factory=list)
    last_transport: str | None = None
    pid: str | None = None
    recovered: bool = False
    first_offset: str | None = None
    received: int = 0
    finished: Any = None
    dropped: bool = False


@dataclass(eq=False)
class Connection:
    """One Engine.IO session and the namespaces it joined.

    Attributes:
        eio_sid: the Engine.IO session id.
        environ: the WSGI environ of the request that opened the session.
        decoder: this connection's packet decoder (it holds binary
            attachments still arriving).
        runner: runs this connection's handlers in order.
        sockets: the namespaces joined, by name.
        connect_timer: closes the session if it joins no namespace in time.
    """

    eio_sid: EngineSid
    environ: dict[str, Any]
    decoder: PacketDecoder
    runner: OrderedRunner
    sockets: dict[str, Socket] = field(default_factory=dict)
    connect_timer: TimerHandle | None = None


class Clients:
    """Every connection and socket this process holds, by id.

    Attributes:
        connections: by Engine.IO sid.
        sockets: by Socket.IO sid (a leaving socket stays until its
            disconnect handler returns).
        pids: by private id (connection state recovery).
    """

    def __init__(self) -> None:
        self.connections: dict[EngineSid, Connection] = {}
        self.sockets: dict[SocketSid, Socket] = {}
        self.pids: dict[str, Socket] = {}

    def socket(self, sid: str, namespace: str | None) -> Socket:
        """The socket ``sid`` in ``namespace`` (default ``"/"``).

        Raises:
            KeyError: no such client in that namespace.
        """
        socket = self.sockets.get(SocketSid(sid))
        if socket is None or socket.namespace != (namespace or "/"):
            raise KeyError(f"no client {sid} in namespace {namespace or '/'}")
        return socket
