"""The Socket.IO v5 layer: namespaces, events, acknowledgements, rooms, recovery.

It sits on the engine (:mod:`realtime.engine`), from which it gets each
client's messages in order, and never sees a transport. Its lower floor,
:mod:`realtime.socketio.managers`, keeps the rooms and fans messages out, in
this process or across the processes of a deployment. This module only
re-exports the public API.
"""

from realtime.socketio.emitter import Emitter
from realtime.socketio.namespace import Namespace
from realtime.socketio.server import Server

__all__ = ["Emitter", "Namespace", "Server"]
