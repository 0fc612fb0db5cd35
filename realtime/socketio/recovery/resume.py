"""Connection state recovery as the dispatcher uses it: joining, resuming, leaving.

A CONNECT whose payload has a ``pid`` asks to resume the socket that had it.
If that socket is still connected (the client's network changed and the
server has not noticed yet), its old connection is closed first, as if it had
dropped. Then the snapshot the drop left is taken; the socket comes back
with its sid, rooms and session, and gets what it missed right after the
CONNECT reply. Anything else (no snapshot, expired, another namespace, a
gap in the log) gives the client a fresh socket, and its ``recovered`` is
false.

:class:`Resumer` is the one object the dispatcher talks to; it picks the
recovery log for the server's manager (:func:`make_recovery_log`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from realtime.engine.session import DisconnectReason
from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.protocol.socketio import SocketSid
from realtime.socketio.clients import Clients, Connection, Socket
from realtime.socketio.recovery.log import MemoryRecoveryLog, RecoveryLog
from realtime.socketio.recovery.options import RecoveryOptions, Snapshot
from realtime.socketio.recovery.redis_log import RedisRecoveryLog

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.socketio import SioPacket
    from realtime.socketio.managers.base import Manager

__all__ = ["LET_GO_TIMEOUT", "Resumed", "Resumer", "make_recovery_log", "strip_recovery_fields"]

#: Seconds a resuming client waits for its old socket's disconnect handler.
LET_GO_TIMEOUT = 5.0
_FIELDS = ("pid", "offset")

#: How the resumer closes the connection of one of this process's sockets, as
#: lost (a socket whose connection is gone already is closed itself).
CloseConnection = Callable[[Socket, DisconnectReason], None]


def strip_recovery_fields(auth: Any) -> Any:
    """The CONNECT payload as the application sees it: without ``pid`` and ``offset``."""
    if not isinstance(auth, dict) or not any(key in auth for key in _FIELDS):
        return auth
    rest = {key: value for key, value in auth.items() if key not in _FIELDS}
    return rest or None


def make_recovery_log(
    options: RecoveryOptions,
    mode: AsyncMode,
    prepare: Callable[[SioPacket], Outgoing],
    manager: Manager,
) -> RecoveryLog:
    """The recovery log for ``manager``: in memory for one process, in Redis for several.

    Raises:
        ConfigurationError: the manager shares its clients with other
            processes over a broker that cannot keep the log (not Redis).
    """
    if not manager.clustered:
        return MemoryRecoveryLog(options, mode, prepare, manager)
    host = manager.ordered_log_host(mode)
    if host is None:
        raise ConfigurationError(
            "connection_state_recovery works with the in-memory manager or a Redis "
            "message_queue (redis://, rediss:// or unix://)"
        )
    return RedisRecoveryLog(options, mode, prepare, host)


@dataclass
class Resumed:
    """A socket brought back, and what it missed (sent right after its CONNECT reply)."""

    socket: Socket
    missed: list[Outgoing]


class Resumer:
    """Connection state recovery for one server's dispatcher.

    Args:
        log: the recovery log (see :func:`make_recovery_log`).
        clients: the connections and sockets of this process.
        manager: where sockets join their rooms.
        mode: the async mode (the event a takeover waits on).
        close_connection: closes one of this process's Engine.IO sessions.
        logger: the messaging layer's logger.
    """

    def __init__(
        self,
        log: RecoveryLog,
        clients: Clients,
        manager: Manager,
        mode: AsyncMode,
        close_connection: CloseConnection,
        logger: logging.Logger,
    ) -> None:
        self.log = log
        self.options = log.options
        self._clients = clients
        self._manager = manager
        self._mode = mode
        self._close_connection = close_connection
        self._logger = logger
        log.attach(self)
        manager.observe(self)

    @staticmethod
    def new_pid() -> str:
        """A private id: as secret as a session token, for whoever holds it resumes."""
        return secrets.token_urlsafe(18)

    def join(self, socket: Socket) -> None:
        """A fresh socket joins: give it a pid and put it in its namespace, in log order."""
        socket.pid = self.new_pid()
        socket.finished = self._mode.event()
        self._clients.pids[socket.pid] = socket
        manager, namespace, sid, eio_sid = (
            self._manager,
            socket.namespace,
            socket.sid,
            socket.eio_sid,
        )
        socket.first_offset = self.log.join(sid, lambda: manager.add(namespace, sid, eio_sid))
        self.log.connected(socket.pid)

    def resume(
        self, connection: Connection, namespace: str, auth: dict[str, Any]
    ) -> Resumed | None:
        """Bring back the socket ``auth["pid"]`` names, on ``connection``; None if it cannot be.

        The socket is back in its rooms and registered with this process;
        its connect handler has not run yet.

        Raises:
            BrokerUnavailable: its state may be kept elsewhere, but cannot be
                reached now (the client should try again later).
        """
        pid, offset = auth.get("pid"), auth.get("offset")
        if not isinstance(pid, str) or not pid:
            return None
        if not isinstance(offset, str):
            offset = None
        self.let_go(pid)
        snapshot = self.log.take(pid)
        if snapshot is None or snapshot.namespace != namespace:
            self._logger.info(
                "nothing to resume in %s for a client coming back (expired, or unknown)",
                namespace,
            )
            return None
        sid = SocketSid(snapshot.sid)
        if sid in self._clients.sockets:
            self._logger.info("cannot resume %s: it is connected already", sid)
            return None
        eio_sid = connection.eio_sid
        socket = Socket(
            sid,
            namespace,
            eio_sid,
            connection.environ,
            session=snapshot.session,
            auth=strip_recovery_fields(auth),
            pid=pid,
            recovered=True,
            first_offset=snapshot.first_offset,
            received=snapshot.received,
            finished=self._mode.event(),
        )
        manager, rooms = self._manager, [room for room in snapshot.rooms if room != sid]
        try:
            missed = self.log.resume(
                snapshot, offset, lambda: manager.restore(namespace, sid, eio_sid, rooms)
            )
        except BrokerUnavailable:
            # The snapshot was taken, and the client is told to try again:
            # keep it for that try (with its first drop's time, so the window
            # does not grow).
            self.log.save(snapshot)
            raise
        if missed is None:
            self._logger.info("could not resume %s in %s: what it missed is gone", sid, namespace)
            return None
        self._clients.pids[pid] = socket
        self.log.connected(pid)
        return Resumed(socket, missed)

    @staticmethod
    def welcome(socket: Socket) -> dict[str, Any]:
        """The CONNECT reply's payload: the sid, the pid, and (when resumed) the
        count of events received from the client, which realtime's client
        uses to send the rest again."""
        welcome: dict[str, Any] = {"sid": socket.sid, "pid": socket.pid}
        if socket.recovered:
            welcome["received"] = socket.received
        return welcome

    def touched(self, socket: Socket, *, urgent: bool) -> None:
        """``socket``'s session (``urgent``) or counters changed: keep its record current."""
        if socket.pid is not None and socket.connected:
            self.log.changed(socket.pid, urgent=urgent)

    # -- what the manager and the log ask (MembershipObserver, RecoveryHost) --------

    def rooms_changed(self, namespace: str, sid: SocketSid) -> None:
        socket = self._clients.sockets.get(sid)
        if socket is not None and socket.pid is not None and not socket.leaving:
            self.log.changed(socket.pid, urgent=True)

    def current(self, pid: str) -> Snapshot | None:
        socket = self._clients.pids.get(pid)
        if socket is None or socket.leaving:
            return None
        return Snapshot(
            pid=pid,
            sid=socket.sid,
            namespace=socket.namespace,
            rooms=self._manager.rooms(socket.namespace, socket.sid),
            session=socket.session,
            first_offset=socket.first_offset,
            received=socket.received,
        )

    def cut_off(self, namespace: str, rooms: Sequence[str] | None) -> None:
        for sid, _ in self._manager.members(namespace, rooms):
            socket = self._clients.sockets.get(sid)
            if socket is not None and socket.pid is not None:
                self._logger.warning(
                    "%s missed events that cannot be replayed; closing its connection", sid
                )
                self._close_connection(socket, DisconnectReason.TRANSPORT_CLOSE)

    def let_go(self, pid: str) -> None:
        """Close this process's connection still holding ``pid``, and wait until it has left."""
        old = self._clients.pids.get(pid)
        if old is None:
            return
        if not old.leaving:
            self._logger.info(
                "%s came back on a new connection; closing its old one %s", old.sid, old.eio_sid
            )
            self._close_connection(old, DisconnectReason.TRANSPORT_CLOSE)
        if old.finished is not None and not old.finished.wait(LET_GO_TIMEOUT):
            self._logger.warning(
                "the disconnect handler of %s did not return within %s s; it cannot be resumed",
                old.sid,
                LET_GO_TIMEOUT,
            )

    def on_exit(self, socket: Socket) -> None:
        """A socket is gone: keep its snapshot if it dropped rather than left."""
        if socket.pid is None:
            return
        if not socket.dropped:
            self.log.left(socket.pid, socket.sid)
            return
        self.log.save(
            Snapshot(
                pid=socket.pid,
                sid=socket.sid,
                namespace=socket.namespace,
                rooms=list(socket.rooms_at_exit),
                session=socket.session,
                first_offset=socket.first_offset,
                received=socket.received,
            )
        )

    def close(self) -> None:
        """Release what the log holds."""
        self.log.close()
