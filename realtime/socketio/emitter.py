"""Emitting to a deployment's clients from a process that serves none.

A script, a cron job or a Celery worker publishes on the deployment's broker;
the server processes deliver to their clients as if one of them had called
``emit()``.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from realtime.engine.outgoing import Outgoing
from realtime.protocol.parsers import Parser
from realtime.protocol.socketio import Serializer, SocketSid
from realtime.socketio.managers.emit_args import Target, as_exclude, as_rooms, event_packet
from realtime.socketio.managers.pubsub import PubSubManager

__all__ = ["Emitter"]


class Emitter:
    """Emit events to the clients of servers that share a message queue.

    Args:
        message_queue: the servers' broker URL (``redis://...``, ``amqp://...``).
        channel: the servers' ``channel`` option.
        serializer: the packet format (the servers re-encode another one,
            so this only saves them work when it matches theirs).
        json: the JSON module of the default format.
        async_mode: the async mode for the broker connection (default: the
            one this process is monkey patched for, else threading).
        logger: where broker trouble is reported.

    Publishing while the broker is unreachable raises
    :class:`~realtime.exceptions.BrokerUnavailable`. No acknowledgement can
    come back to an emitter, so ``emit()`` takes no callback.
    """

    def __init__(
        self,
        message_queue: str = "redis://localhost:6379/0",
        channel: str = "socketio",
        *,
        serializer: str | Parser = "default",
        json: Serializer | None = None,
        async_mode: str | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.manager = PubSubManager(
            message_queue,
            channel,
            write_only=True,
            logger=logger,
            serializer=serializer,
            json=json,
            async_mode=async_mode,
        )

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Target = None,
        room: Target = None,
        skip_sid: Target = None,
        namespace: str | None = None,
    ) -> None:
        """Emit ``event`` as :meth:`realtime.Server.emit` would, from any process.

        Raises:
            ConfigurationError: a reserved event name.
            BrokerUnavailable: the broker cannot be reached.
        """
        namespace = namespace or "/"
        packet = event_packet(event, data, namespace)
        self.manager.publish_emit(
            namespace,
            Outgoing(self.manager.parser.encoder.encode(packet)),
            as_rooms(to if to is not None else room),
            as_exclude(skip_sid),
        )

    def send(
        self,
        data: Any,
        to: Target = None,
        room: Target = None,
        skip_sid: Target = None,
        namespace: str | None = None,
    ) -> None:
        """Emit a ``message`` event."""
        self.emit("message", data, to, room, skip_sid, namespace)

    def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put client ``sid`` (of whichever process serves it) in ``room``."""
        self.manager.enter_room(namespace or "/", SocketSid(sid), room)

    def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take client ``sid`` out of ``room``."""
        if room != sid:
            self.manager.leave_room(namespace or "/", SocketSid(sid), room)

    def close_room(self, room: str, namespace: str | None = None) -> None:
        """Take every client of every process out of ``room``."""
        self.manager.close_room(namespace or "/", room)

    def disconnect(self, sid: str, namespace: str | None = None) -> None:
        """Disconnect client ``sid`` from ``namespace``."""
        self.manager.disconnect_elsewhere(sid, namespace or "/")

    def close(self) -> None:
        """Release the broker connection."""
        self.manager.close()

    def __enter__(self) -> Emitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
