"""Managers: where rooms live and how messages fan out.

:class:`MemoryManager` keeps rooms in this process (the default);
:class:`PubSubManager` shares them with every process on the same broker.
"""

from realtime.socketio.managers.base import Manager
from realtime.socketio.managers.memory import MemoryManager
from realtime.socketio.managers.pubsub import KombuManager, PubSubManager, RedisManager

__all__ = ["KombuManager", "Manager", "MemoryManager", "PubSubManager", "RedisManager"]
