"""WebSocket: the transport, its connections, the opening handshake and the framing fast path.

- :mod:`.transport`: :class:`WebSocketTransport`, the transport plug-in.
- :mod:`.connection`: :class:`WebSocketConnection`, one open WebSocket.
- :mod:`.handshake`: the opening handshake.
- :mod:`.frames_fastpath`: whole data frames read and written by hand; the
  ``websockets`` package does everything else.
- :mod:`.detached_reader`: a connection served from the hub.
"""

from realtime.engine.transports.websocket.connection import WebSocketConnection
from realtime.engine.transports.websocket.frames_fastpath import frame_for
from realtime.engine.transports.websocket.transport import WebSocketTransport

__all__ = ["WebSocketConnection", "WebSocketTransport", "frame_for"]
