"""The manager contract: where rooms live and how a message reaches its recipients.

A manager knows which Socket.IO connections (sids) are in which rooms of which
namespace, and delivers prepared messages to them. The in-memory manager keeps
all of it in this process; a broker-backed manager
(:class:`~realtime.socketio.managers.PubSubManager`) adds the other processes of a
deployment behind the same contract: its rooms hold this process's clients,
and what it cannot do here it publishes for the others.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.forwarding import ClusterLink
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.engineio import EngineSid
    from realtime.protocol.parsers import Parser
    from realtime.protocol.socketio import SioPacket, SocketSid
    from realtime.socketio.managers.broker_link import BrokerMonitor
    from realtime.socketio.managers.gathering import AnswerCallback, Gathering
    from realtime.socketio.managers.ordered_log import OrderedLogHost

__all__ = ["Manager", "ManagerHost", "Members", "MembershipObserver"]

#: Connections as (Socket.IO sid, Engine.IO sid) pairs.
Members = Sequence[tuple["SocketSid", "EngineSid"]]


class ManagerHost(Protocol):
    """What the server offers its manager: local delivery, and what other
    processes ask of this one's clients."""

    @property
    def parser(self) -> Parser:
        """The server's packet format."""

    def deliver(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> bool:
        """Hand a prepared message for ``namespace`` to one local connection."""

    def ask(
        self,
        namespace: str,
        packet: SioPacket,
        members: Members,
        pending: Callable[[SocketSid], Callable[[list[Any]], None]],
    ) -> None:
        """Send ``packet`` to ``members`` with a fresh ack id; each one's answer
        goes to ``pending(sid)``, whose ``abandon()`` is called if it leaves."""

    def disconnect(self, sid: str, namespace: str) -> None:
        """Disconnect a client of this process from ``namespace``."""


class MembershipObserver(Protocol):
    """Hears of room changes of this process's connections (recovery keeps them)."""

    def rooms_changed(self, namespace: str, sid: SocketSid) -> None:
        """``sid`` entered or left a room of ``namespace`` (not when it leaves them all)."""


class Manager(abc.ABC):
    """Rooms and fan-out for one server.

    Every connection is in the room named after its own sid. Room names are
    strings; a connection may be in any number of rooms per namespace.
    """

    def __init__(self) -> None:
        self._host: ManagerHost | None = None
        self._observers: tuple[MembershipObserver, ...] = ()

    def bind(self, host: ManagerHost) -> None:
        """Called once by the server: how to reach its clients."""
        self._host = host

    def cluster_link(self, mode: AsyncMode) -> ClusterLink | None:
        """The link the engine shares with the other processes (None: there are none).

        Called by the server before it builds its engine.
        """
        return None

    def ordered_log_host(self, mode: AsyncMode) -> OrderedLogHost | None:
        """What a recovery log shared by every process needs from this manager,
        if its broker can keep one (Redis); None otherwise."""
        return None

    @property
    def clustered(self) -> bool:
        """True when other processes may serve clients of the same deployment."""
        return False

    # -- membership ----------------------------------------------------------

    @abc.abstractmethod
    def add(self, namespace: str, sid: SocketSid, eio_sid: EngineSid) -> None:
        """A connection joined ``namespace``; it enters its own room."""

    @abc.abstractmethod
    def restore(
        self, namespace: str, sid: SocketSid, eio_sid: EngineSid, rooms: Iterable[str]
    ) -> None:
        """A connection comes back with its rooms (connection state recovery).

        It joins ``namespace`` and ``rooms`` in this process at once, with
        nothing else happening on the way: no message is delivered, none is
        published.
        """

    def broker_reachable(self) -> bool | None:
        """Whether the broker that links the processes is reachable now, as
        far as this manager last saw (no request is made); None when the
        manager uses no broker."""
        return None

    def monitor_broker(self, monitor: BrokerMonitor | None) -> None:
        """Tell ``monitor`` of each message this manager's broker link
        publishes and receives, and of its failures (None: stop); nothing
        for a manager that uses no broker."""
        return

    def observe(self, observer: MembershipObserver) -> None:
        """Tell ``observer`` each time a connection of this process enters or
        leaves a room (after the observers given before it)."""
        self._observers = (*self._observers, observer)

    def _rooms_changed(self, namespace: str, sid: SocketSid) -> None:
        """Tell every observer that ``sid``'s rooms changed."""
        for observer in self._observers:
            observer.rooms_changed(namespace, sid)

    @abc.abstractmethod
    def remove(self, namespace: str, sid: SocketSid) -> None:
        """A connection left ``namespace``; it leaves every room there."""

    @abc.abstractmethod
    def enter_room(self, namespace: str, sid: SocketSid, room: str) -> None:
        """Put ``sid`` in ``room`` (no-op for an unknown sid)."""

    @abc.abstractmethod
    def leave_room(self, namespace: str, sid: SocketSid, room: str) -> None:
        """Take ``sid`` out of ``room``."""

    @abc.abstractmethod
    def close_room(self, namespace: str, room: str) -> None:
        """Take every connection out of ``room``."""

    def close_room_here(self, namespace: str, room: str) -> None:
        """:meth:`close_room` for this process's clients only (``ignore_queue``)."""
        self.close_room(namespace, room)

    @abc.abstractmethod
    def rooms(self, namespace: str, sid: SocketSid) -> list[str]:
        """The rooms ``sid`` is in, its own room first."""

    @abc.abstractmethod
    def members(
        self, namespace: str, rooms: Sequence[str] | None = None
    ) -> list[tuple[SocketSid, EngineSid]]:
        """Connections in any of ``rooms`` (all of the namespace for None), once each."""

    # -- delivery ------------------------------------------------------------

    def broadcast(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> list[SocketSid]:
        """Deliver ``outgoing`` to the members of ``rooms`` but not of ``exclude``.

        Returns the sids of this process it was handed to. The message was
        encoded once by the caller; each recipient costs one write.
        """
        return self.broadcast_here(namespace, outgoing, rooms, exclude)

    def broadcast_here(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> list[SocketSid]:
        """:meth:`broadcast` to this process's clients only (``ignore_queue``)."""
        members = self.members(namespace, rooms)
        if exclude:
            skip = self.excluded(namespace, exclude)
            members = [member for member in members if member[0] not in skip]
        return self.deliver(namespace, outgoing, members)

    def excluded(self, namespace: str, exclude: Iterable[str]) -> set[str]:
        """The sids ``exclude`` leaves out here: each of its names that is a
        sid, and every member of each of its names that is a room (a sid is
        its own room, so both are rooms)."""
        skip = set(exclude)
        if skip:
            skip.update(sid for sid, _ in self.members(namespace, list(skip)))
        return skip

    def deliver(
        self,
        namespace: str,
        outgoing: Outgoing,
        members: Sequence[tuple[SocketSid, EngineSid]],
    ) -> list[SocketSid]:
        """Hand ``outgoing`` to each of ``members``; the sids it reached."""
        host = self._host
        if host is None:
            raise RuntimeError("manager used before bind()")
        deliver = host.deliver
        return [sid for sid, eio_sid in members if deliver(namespace, eio_sid, outgoing)]

    # -- across processes ----------------------------------------------------

    def request(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
        *,
        sid: str | None = None,
        on_answer: AnswerCallback | None = None,
    ) -> Gathering | None:
        """Ask the clients other processes serve to acknowledge a message.

        ``outgoing`` is an EVENT without an ack id; each process gives it one
        of its own. The members of ``rooms`` (or the one client ``sid``) on
        other processes get it. None when there are no other processes.
        """
        return None

    def forget(self, gathering: Gathering) -> None:  # noqa: B027 - nothing to forget here
        """The caller stopped waiting for ``gathering``."""

    def close(self) -> None:  # noqa: B027 - a manager in memory holds nothing to release
        """Release what the manager holds (a broker connection)."""

    def disconnect_elsewhere(self, sid: str, namespace: str) -> bool:
        """Disconnect a client another process serves; False if there is none."""
        return False
