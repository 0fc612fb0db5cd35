"""The link between the server processes of a deployment, over a broker.

Each process listens on ``<channel>:node:<node id>`` for messages addressed
to it, and (with ``fanout``) on ``<channel>`` for messages to every process.
Both channels are one subscription, so what one process publishes reaches
another in the order it was published, whichever of the two channels it
took. Messages are msgpack maps with a version field (``"v": 1``) and an
``op``; nothing crosses the broker as pickle. Ops starting with ``m.`` are
the messaging layer's (see :mod:`realtime.socketio.managers.pubsub`), the others the
engine's (see :mod:`realtime.engine.forwarding`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from realtime.engine.forwarding import new_node_id
from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.brokers import Broker

__all__ = ["PROTOCOL_VERSION", "BrokerLink", "pack", "unpack"]

PROTOCOL_VERSION = 1
#: Seconds a new process waits for its broker subscription before serving.
READY_TIMEOUT = 5.0

try:  # msgpack comes with the redis extra
    import msgpack
except ImportError:  # pragma: no cover - checked when a link is made
    msgpack = None

logger = logging.getLogger("realtime.cluster")


def pack(message: dict[str, Any]) -> bytes:
    """A message as the bytes that cross the broker."""
    data: bytes = msgpack.packb({"v": PROTOCOL_VERSION, **message}, use_bin_type=True)
    return data


def unpack(data: bytes) -> dict[str, Any] | None:
    """A message read from the broker; None for one this version cannot read."""
    try:
        message = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception:
        logger.warning("ignored an unreadable message from the broker")
        return None
    if not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION:
        logger.warning("ignored a broker message of another protocol version")
        return None
    return message


class BrokerLink:
    """A :class:`~realtime.engine.forwarding.ClusterLink` over a broker.

    Args:
        broker: the connection to the broker.
        channel: the prefix every channel of this deployment starts with.
        fanout: also listen to messages published to every process.
        listen: False for a process that only publishes (an emitter).
        node_id: this process's id (a fresh one by default).
    """

    def __init__(
        self,
        broker: Broker,
        channel: str,
        *,
        fanout: bool = False,
        listen: bool = True,
        node_id: str | None = None,
    ) -> None:
        if msgpack is None:
            raise ConfigurationError(
                "message_queue needs the msgpack package: "
                "pip install 'realtime[redis]' (or 'realtime[kombu]')"
            )
        self.broker = broker
        self.channel = channel
        self.node_id = node_id or new_node_id()
        self._handler: Callable[[dict[str, Any]], None] | None = None
        self._manager_handler: Callable[[dict[str, Any]], None] | None = None
        if not listen:
            return
        channels = [self.node_channel(self.node_id)] + ([channel] if fanout else [])
        ready = broker.mode.event()
        broker.subscribe(channels, self._on_data, ready.set)
        if not ready.wait(READY_TIMEOUT):
            logger.warning(
                "the broker at %s did not answer within %s s; serving local clients until it does",
                broker.describe(),
                READY_TIMEOUT,
            )

    def node_channel(self, node: str) -> str:
        return f"{self.channel}:node:{node}"

    def send(self, node: str, message: dict[str, Any]) -> bool:
        """Send ``message`` to process ``node``; False if it cannot have got it."""
        try:
            receivers = self.broker.publish(self.node_channel(node), pack(message))
        except BrokerUnavailable as exc:
            logger.warning("cannot reach process %s: %s", node, exc)
            return False
        return receivers is None or receivers > 0

    def send_all(self, message: dict[str, Any]) -> int | None:
        """Publish ``message`` to every process listening; how many got it, if known.

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """
        return self.broker.publish(self.channel, pack(message))

    def on_message(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """Where the engine's messages go."""
        self._handler = handler

    def on_manager_message(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """Where the messaging layer's messages (ops ``m.*``) go."""
        self._manager_handler = handler

    def _on_data(self, channel: str, data: bytes) -> None:
        message = unpack(data)
        if message is None:
            return
        op = message.get("op")
        handler = (
            self._manager_handler if isinstance(op, str) and op.startswith("m.") else self._handler
        )
        if handler is not None:
            handler(message)

    def close(self) -> None:
        """Stop listening."""
        self.broker.close()
