"""The Engine.IO v4 layer: sessions, heartbeats, upgrades and transports.

:class:`Server` is a WSGI application that any Engine.IO v4 client can talk
to, usable on its own or under the Socket.IO layer.
"""

from realtime.engine.server import Server
from realtime.engine.session import DisconnectReason

__all__ = ["DisconnectReason", "Server"]
