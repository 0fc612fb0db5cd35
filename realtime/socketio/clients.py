"""The state of a Socket.IO client, kept as plain data.

A :class:`Connection` is one Engine.IO session; a :class:`Socket` is that
connection joined to one namespace. Everything a socket needs to go on (its
sid, namespace, user session) is plain, serializable data (architecture rule
5), so it can later move between processes or come back after a drop.

A socket's lifecycle is one :class:`SocketState`, changed only by the
socket's own methods, along these arrows::

    JOINING --accept()--> CONNECTED --leave()--> LEAVING --finish()--> GONE
       |                                            ^
       +-------------------leave()------------------+
       +-------------------finish()---------------------------------> GONE

JOINING: its connect handler runs. CONNECTED: its events are dispatched.
LEAVING: it is out of every room, and its disconnect handler is waiting or
running. GONE: nothing is left of it.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from realtime.protocol.socketio import SocketSid

if TYPE_CHECKING:
    from realtime.async_modes.base import Event
    from realtime.engine.scheduler import TimerHandle
    from realtime.protocol.engineio import EngineSid
    from realtime.protocol.socketio import PacketDecoder
    from realtime.socketio.ordering import OrderedRunner

__all__ = ["Clients", "Connection", "Socket", "SocketState"]


class SocketState(enum.Enum):
    """Where a socket is in its life (see the module's notes)."""

    JOINING = "joining"
    CONNECTED = "connected"
    LEAVING = "leaving"
    GONE = "gone"


_NEXT = {
    SocketState.JOINING: frozenset({SocketState.CONNECTED, SocketState.LEAVING, SocketState.GONE}),
    SocketState.CONNECTED: frozenset({SocketState.LEAVING}),
    SocketState.LEAVING: frozenset({SocketState.GONE}),
    SocketState.GONE: frozenset(),
}


@dataclass(eq=False)
class Socket:
    """One client in one namespace.

    Attributes:
        sid: the Socket.IO session id (distinct from the Engine.IO one).
        namespace: the namespace it joined.
        eio_sid: the Engine.IO session carrying it.
        environ: the WSGI environ of the request that opened the connection.
        session: the application's per-connection data (``get_session``).
        auth: the auth payload of the CONNECT packet.
        state: where it is in its life; changed by :meth:`accept`,
            :meth:`leave` and :meth:`finish` only.
        rooms_at_exit: the rooms it was in when it started leaving (it is
            already out of them, so no broadcast reaches it).
        last_transport: its transport when it started leaving.
        dropped: it left because its connection was lost, not on purpose, so
            it may be recovered (set by :meth:`leave`).
        pid: its private id, with connection state recovery on.
        recovered: it took over the state of a socket that had dropped.
        first_offset: the recovery log's position when it joined.
        received: events received from the client (recovered ones included).
        finished: set once it is gone, when something waits for that
            (a client resuming it on a new connection).
        created: when it joined (seconds since the epoch; its handshake's time).
    """

    sid: SocketSid
    namespace: str
    eio_sid: EngineSid
    environ: dict[str, Any]
    session: dict[str, Any] = field(default_factory=dict)
    auth: Any = None
    state: SocketState = SocketState.JOINING
    rooms_at_exit: list[str] = field(default_factory=list)
    last_transport: str | None = None
    dropped: bool = False
    pid: str | None = None
    recovered: bool = False
    first_offset: str | None = None
    received: int = 0
    finished: Event | None = None
    created: float = field(default_factory=time.time)

    @property
    def connected(self) -> bool:
        """Its events are dispatched (the connect handler accepted it)."""
        return self.state is SocketState.CONNECTED

    @property
    def leaving(self) -> bool:
        """It has started to leave (or is gone)."""
        return self.state is SocketState.LEAVING or self.state is SocketState.GONE

    def accept(self) -> None:
        """The connect handler accepted it."""
        self._move(SocketState.CONNECTED)

    def leave(self, rooms: list[str], transport: str | None, *, dropped: bool) -> bool:
        """It starts leaving, out of ``rooms``, last on ``transport``; True if it was connected.

        ``dropped``: its connection was lost rather than closed on purpose.
        """
        was_connected = self.state is SocketState.CONNECTED
        self._move(SocketState.LEAVING)
        self.rooms_at_exit = rooms
        self.last_transport = transport
        self.dropped = dropped
        return was_connected

    def finish(self) -> None:
        """Nothing is left of it: wake whoever waits for that."""
        if self.state is not SocketState.GONE:
            self._move(SocketState.GONE)
        if self.finished is not None:
            self.finished.set()

    def _move(self, state: SocketState) -> None:
        if state not in _NEXT[self.state]:
            raise RuntimeError(
                f"socket {self.sid} cannot go from {self.state.name} to {state.name}"
            )
        self.state = state


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
