"""Socket.IO for Flask apps: a drop-in superset of Flask-SocketIO 5.

``from realtime.flask_integration import SocketIO, emit`` is all a
Flask-SocketIO app needs to change. This module only re-exports.
"""

from realtime.exceptions import ConnectionRefused, EventRefused
from realtime.flask_integration.extension import Realtime
from realtime.flask_integration.helpers import (
    call,
    close_room,
    disconnect,
    emit,
    join_room,
    leave_room,
    rooms,
    send,
)
from realtime.flask_integration.namespace import Namespace
from realtime.flask_integration.test_client import RealtimeTestClient

#: Flask-SocketIO's name for :class:`Realtime`.
SocketIO = Realtime
#: Flask-SocketIO's name for :class:`RealtimeTestClient`.
SocketIOTestClient = RealtimeTestClient
#: Flask-SocketIO's name for :class:`realtime.ConnectionRefused` (raise it in a
#: connect handler to refuse). Only this module uses the builtin's name.
ConnectionRefusedError = ConnectionRefused

__all__ = [
    "ConnectionRefused",
    "ConnectionRefusedError",
    "EventRefused",
    "Namespace",
    "Realtime",
    "RealtimeTestClient",
    "SocketIO",
    "SocketIOTestClient",
    "call",
    "close_room",
    "disconnect",
    "emit",
    "join_room",
    "leave_room",
    "rooms",
    "send",
]
