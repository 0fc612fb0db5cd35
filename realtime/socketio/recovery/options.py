"""What connection state recovery keeps: its options, and a dropped socket's snapshot.

The Socket.IO v5 rules (socket.io 4.6+): the CONNECT reply carries a private
``pid`` beside the ``sid``; every EVENT the server emits without asking for an
acknowledgement carries its *offset* as one more, last argument; a client that
reconnects sends ``{"pid": ..., "offset": ...}`` in its CONNECT payload, and
the server restores its sid, rooms and session and sends what it missed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from realtime.engine.session import DisconnectReason
from realtime.exceptions import ConfigurationError

__all__ = ["IN_FLIGHT", "RECOVERABLE_REASONS", "RecoveryOptions", "Snapshot", "matches"]

#: Why a connection may end and still be recovered: it was lost, not closed
#: on purpose by either side. These are reasons of the *engine* session: a
#: client that leaves on purpose sends a Socket.IO DISCONNECT first, so an
#: engine closed by the client ("client disconnect") with namespaces still
#: joined is a transport that gave up (socket.io-client closes a polling
#: session that way after a missed heartbeat; socket.io's server calls it
#: "transport close").
RECOVERABLE_REASONS = frozenset(
    {
        DisconnectReason.CLIENT_DISCONNECT,
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.TRANSPORT_ERROR,
        DisconnectReason.PING_TIMEOUT,
    }
)


#: Seconds before a drop during which events handed to the client may still
#: have been on their way (the heartbeat's interval and timeout, with room).
IN_FLIGHT = 120.0


@dataclass(frozen=True)
class RecoveryOptions:
    """The ``connection_state_recovery`` option.

    Attributes:
        max_disconnection_duration: seconds a dropped client has to come back.
        skip_middlewares: on recovery the connect handler still runs, but
            cannot refuse the client (Socket.IO skips its middlewares); False
            lets it refuse, and the client then gets a CONNECT_ERROR.
        max_packets: events kept for replay, at most.
        max_bytes: bytes of events kept for replay, at most.
    """

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True
    max_packets: int = 10_000
    max_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_option(cls, value: Any) -> RecoveryOptions | None:
        """``True``, a mapping of these fields, an instance, or False/None for off.

        Raises:
            ConfigurationError: anything else, or a bound that is not positive.
        """
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            options = value
        elif isinstance(value, Mapping):
            known = {"max_disconnection_duration", "skip_middlewares", "max_packets", "max_bytes"}
            unknown = set(value) - known
            if unknown:
                raise ConfigurationError(
                    f"connection_state_recovery: unknown option(s) {', '.join(sorted(unknown))}"
                )
            options = cls(**value)
        else:
            raise ConfigurationError(
                "connection_state_recovery must be True, False or a dict of options"
            )
        if (
            options.max_disconnection_duration <= 0
            or options.max_packets <= 0
            or options.max_bytes <= 0
        ):
            raise ConfigurationError("connection_state_recovery: every bound must be positive")
        return options


@dataclass
class Snapshot:
    """What a dropped socket comes back to.

    Attributes:
        pid: its private id (the key to recover it).
        sid: its Socket.IO sid, which it keeps.
        namespace: its namespace.
        rooms: the rooms it was in (its own sid included).
        session: the application's per-connection data.
        first_offset: the log's position when it connected: a client that
            received no event missed everything after it.
        received: how many events the server received from it.
        disconnected_at: when it dropped (``time.time()``).
    """

    pid: str
    sid: str
    namespace: str
    rooms: list[str]
    session: dict[str, Any]
    first_offset: str | None
    received: int
    disconnected_at: float = field(default_factory=time.time)


def matches(
    namespace: str, rooms: Sequence[str] | None, exclude: Iterable[str], snap: Snapshot
) -> bool:
    """Whether an event to ``rooms`` but ``exclude`` in ``namespace`` was meant for ``snap``."""
    if namespace != snap.namespace:
        return False
    own = set(snap.rooms)
    if rooms is not None and own.isdisjoint(rooms):
        return False
    return own.isdisjoint(exclude)
