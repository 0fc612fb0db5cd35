"""realtime: two-way real-time communication for Flask and WSGI apps.

Engine.IO v4 and Socket.IO v5 compatible. This module only re-exports the
public API; names are imported on first use, so that importing the pure
protocol layer (``realtime.protocol``) loads no I/O machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from realtime.exceptions import (
    AckTimeout,
    BrokerUnavailable,
    ConfigurationError,
    ConnectionRefused,
    EventRefused,
    PacketDecodeError,
    ProcessesTimeout,
    ProtocolError,
    RealtimeError,
)

if TYPE_CHECKING:
    from realtime.engine.session import DisconnectReason
    from realtime.serving import make_server, serve
    from realtime.socketio.emitter import Emitter
    from realtime.socketio.managers import (
        KombuManager,
        Manager,
        MemoryManager,
        PubSubManager,
        RedisManager,
    )
    from realtime.socketio.namespace import Namespace
    from realtime.socketio.server import Server

__all__ = [
    "AckTimeout",
    "BrokerUnavailable",
    "ConfigurationError",
    "ConnectionRefused",
    "DisconnectReason",
    "Emitter",
    "EventRefused",
    "KombuManager",
    "Manager",
    "MemoryManager",
    "Namespace",
    "PacketDecodeError",
    "ProcessesTimeout",
    "ProtocolError",
    "PubSubManager",
    "RealtimeError",
    "RedisManager",
    "Server",
    "make_server",
    "serve",
]

__version__ = "0.1.0.dev0"

_LAZY = {
    "DisconnectReason": "realtime.engine.session",
    "Emitter": "realtime.socketio.emitter",
    "KombuManager": "realtime.socketio.managers",
    "Manager": "realtime.socketio.managers",
    "MemoryManager": "realtime.socketio.managers",
    "PubSubManager": "realtime.socketio.managers",
    "RedisManager": "realtime.socketio.managers",
    "Namespace": "realtime.socketio.namespace",
    "Server": "realtime.socketio.server",
    "make_server": "realtime.serving",
    "serve": "realtime.serving",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
