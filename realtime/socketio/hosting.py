"""What a :class:`realtime.Server` offers its manager: the
:class:`~realtime.socketio.managers.base.ManagerHost` through which messages from
other processes reach this one's clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from realtime.engine import DisconnectReason
from realtime.protocol.socketio import SocketSid

if TYPE_CHECKING:
    import logging

    from realtime.async_modes import AsyncMode
    from realtime.engine import Server as EngineServer
    from realtime.protocol.parsers import Parser
    from realtime.protocol.socketio import SioPacket
    from realtime.socketio.acks import AckRegistry
    from realtime.socketio.delivery import Delivery
    from realtime.socketio.dispatch import Dispatcher
    from realtime.socketio.managers.base import Members
    from realtime.socketio.server import Server

__all__ = ["ServerHost"]


class ServerHost:
    """The parts of a server its manager may use.

    Args:
        engine: the server's engine (for its node id and async mode).
        parser: the server's packet format.
        acks: where the server waits for acknowledgements.
        delivery: how the server hands packets to sessions.
        server: the server itself (for the application's logger).
        dispatcher: where handlers run.
    """

    def __init__(
        self,
        engine: EngineServer,
        parser: Parser,
        acks: AckRegistry,
        delivery: Delivery,
        server: Server,
        dispatcher: Dispatcher,
    ) -> None:
        self.node_id: str = engine.node_id
        self.parser = parser
        self.mode: AsyncMode = engine.mode
        self.logger: logging.Logger = server.logger
        self._acks = acks
        self._delivery = delivery
        self._server = server
        self._dispatcher = dispatcher

    def ask(
        self,
        namespace: str,
        packet: SioPacket,
        members: Members,
        pending: Callable[[SocketSid], Callable[[list[Any]], None]],
    ) -> None:
        ack_id = self._acks.new_id()
        for sid, _ in members:
            self._acks.expect([sid], ack_id, pending(sid))
        outgoing = self._delivery.prepare(packet.with_id(ack_id))
        self._server.manager.deliver(namespace, outgoing, members)

    def disconnect(self, sid: str, namespace: str) -> None:
        socket = self._dispatcher.clients.sockets.get(SocketSid(sid))
        if socket is not None and socket.namespace == namespace and not socket.leaving:
            self._dispatcher.close_socket(
                socket, DisconnectReason.SERVER_DISCONNECT, tell_client=True
            )

    def run(self, fn: Callable[..., Any], *args: Any) -> None:
        self._dispatcher.run_anywhere(fn, *args)
