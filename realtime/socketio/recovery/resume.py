"""The dispatcher's side of connection state recovery.

A CONNECT whose payload has a ``pid`` asks to resume the socket that had it.
If that socket is still connected (the client's network changed and the
server has not noticed yet), its old connection is closed first, as if it had
dropped. Then the snapshot the drop left is taken; the socket comes back
with its sid, rooms and session, and gets what it missed right after the
CONNECT reply. Anything else (no snapshot, expired, another namespace, a
gap in the log) gives the client a fresh socket, and its ``recovered`` is
false.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from realtime.engine import DisconnectReason
from realtime.protocol.socketio import SioPacket, SocketSid
from realtime.socketio.clients import Connection, Socket
from realtime.socketio.recovery.log import RecoveryLog, Snapshot

if TYPE_CHECKING:
    from realtime.engine.outgoing import Outgoing
    from realtime.socketio.dispatch import Dispatcher
    from realtime.socketio.handlers import Resolved

__all__ = ["TAKEOVER_TIMEOUT", "Resumer", "strip_recovery_fields"]

#: Seconds a resuming client waits for its old socket's disconnect handler.
TAKEOVER_TIMEOUT = 5.0
_FIELDS = ("pid", "offset")


def strip_recovery_fields(auth: Any) -> Any:
    """The CONNECT payload as the application sees it: without ``pid`` and ``offset``."""
    if not isinstance(auth, dict) or not any(key in auth for key in _FIELDS):
        return auth
    rest = {key: value for key, value in auth.items() if key not in _FIELDS}
    return rest or None


class Resumer:
    """Connection state recovery for one dispatcher.

    Args:
        dispatcher: the dispatcher it works for.
        log: the recovery log.
    """

    def __init__(self, dispatcher: Dispatcher, log: RecoveryLog) -> None:
        self.dispatcher = dispatcher
        self.log = log
        log.attach(self.let_go)

    @staticmethod
    def new_pid() -> str:
        """A private id: as secret as a session token, for whoever holds it resumes."""
        return secrets.token_urlsafe(18)

    def try_resume(
        self, connection: Connection, packet: SioPacket, resolved: Resolved | None
    ) -> bool:
        """Resume the socket the CONNECT names; False to connect a fresh one instead."""
        d = self.dispatcher
        auth = packet.data
        pid, offset = auth.get("pid"), auth.get("offset")
        if not isinstance(pid, str) or not pid:
            return False
        if not isinstance(offset, str):
            offset = None
        self.let_go(pid)
        snapshot = self.log.take(pid) or self.log.take_elsewhere(pid)
        namespace, eio_sid = packet.namespace, connection.eio_sid
        if snapshot is None or snapshot.namespace != namespace:
            return False
        sid = SocketSid(snapshot.sid)
        if sid in d.clients.sockets:
            return False
        app_auth = strip_recovery_fields(auth)
        socket = Socket(
            sid,
            namespace,
            eio_sid,
            connection.environ,
            session=snapshot.session,
            auth=app_auth,
            pid=pid,
            recovered=True,
            first_offset=snapshot.first_offset,
            received=snapshot.received,
            finished=d.mode.event(),
        )

        def add() -> None:
            d.manager.add(namespace, sid, eio_sid)
            for room in snapshot.rooms:
                if room != sid:
                    d.manager.enter_room(namespace, sid, room)

        d.delivery.hold(eio_sid, namespace)
        missed = self.log.resume(snapshot, offset, add)
        if missed is None:
            d.delivery.release(eio_sid, namespace, None, keep=False)
            d.logger.info("could not resume %s in %s: what it missed is gone", sid, namespace)
            return False
        connection.sockets[namespace] = socket
        d.clients.sockets[sid] = socket
        d.clients.pids[pid] = socket
        self.log.connected(pid)
        self._finish(connection, socket, resolved, app_auth, missed)
        return True

    def _finish(
        self,
        connection: Connection,
        socket: Socket,
        resolved: Resolved | None,
        auth: Any,
        missed: list[Outgoing],
    ) -> None:
        d = self.dispatcher
        namespace, eio_sid = socket.namespace, socket.eio_sid
        reply: Outgoing | None = None
        accepted = False
        try:
            refusal = d.run_connect_handler(resolved, socket, auth)
            if refusal is not None and not self.log.options.skip_middlewares:
                d.forget_socket(socket)
                reply = d.refusal(namespace, *refusal)
                return
            if refusal is not None:
                d.logger.info(
                    "the connect handler refused %s, which resumed a dropped connection; "
                    "kept (skip_middlewares is on)",
                    socket.sid,
                )
            accepted = socket.connected = True
            d.connected(connection)
            reply = d.delivery.prepare(
                SioPacket.connect(
                    namespace, {"sid": socket.sid, "pid": socket.pid, "received": socket.received}
                )
            )
        finally:
            d.delivery.release(eio_sid, namespace, reply, keep=accepted, then=missed)

    def let_go(self, pid: str) -> None:
        """Close this process's connection still holding ``pid``, and wait until it has left."""
        d = self.dispatcher
        old = d.clients.pids.get(pid)
        if old is None:
            return
        if not old.leaving:
            d.logger.info(
                "%s came back on a new connection; closing its old one %s", old.sid, old.eio_sid
            )
            d.engine.disconnect(old.eio_sid, reason=DisconnectReason.TRANSPORT_CLOSE)
        if old.finished is not None and not old.finished.wait(TAKEOVER_TIMEOUT):
            d.logger.warning(
                "the disconnect handler of %s did not return within %s s; it cannot be resumed",
                old.sid,
                TAKEOVER_TIMEOUT,
            )

    def on_exit(self, socket: Socket) -> None:
        """A socket is gone: keep its snapshot if it dropped rather than left."""
        if socket.pid is None:
            return
        self.log.left(socket.pid)
        if not socket.dropped:
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
