"""Acknowledgements the server asks clients for: ``emit(callback=)`` and ``call()``.

Every event the server emits with a callback (or through ``call``) carries
an ack id. Ids come from one counter per server, so a broadcast uses the
same id for every recipient and is still encoded once; a pending ack is
keyed by (client sid, id) in the :class:`AckRegistry`, and the client's ACK
packet (see the dispatcher) resolves it.

:class:`AckRequests` sends such events, here and, with a broker, to the
clients other processes serve: the manager publishes the event once, each
process asks its own clients with an ack id of its own and reports their
answers back (a :class:`~realtime.socketio.managers.gathering.Gathering`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from realtime.exceptions import AckTimeout
from realtime.protocol.socketio import SocketSid
from realtime.socketio.managers.emit_args import Target, as_rooms
from realtime.socketio.managers.gathering import GONE

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.socketio import SioPacket
    from realtime.socketio.clients import Clients
    from realtime.socketio.managers.base import Manager
    from realtime.socketio.managers.gathering import Gathering

__all__ = ["AckRegistry", "AckRequests", "Waiter"]

#: Ack ids wrap around here, well inside what JavaScript numbers hold exactly.
_MAX_ID = 2**31


class Waiter:
    """A pending ``call``: the thread that called blocks until the answer comes.

    Args:
        mode: the async mode whose event to wait on.
    """

    __slots__ = ("_event", "args", "disconnected")

    def __init__(self, mode: AsyncMode) -> None:
        self._event = mode.event()
        self.args: list[Any] | None = None
        self.disconnected = False

    def __call__(self, args: list[Any]) -> None:
        self.args = args
        self._event.set()

    def abandon(self) -> None:
        """The client went away: wake the caller without an answer."""
        self.disconnected = True
        self._event.set()

    def wait(self, timeout: float | None) -> bool:
        return self._event.wait(timeout)


AckCallback = Callable[[list[Any]], None]


class AckRegistry:
    """Callbacks waiting for clients' ACK packets.

    Args:
        mode: the async mode (for locks and waiters).
    """

    def __init__(self, mode: AsyncMode) -> None:
        self._mode = mode
        self._ids = itertools.count(1)
        self._lock = mode.lock()
        self._pending: dict[SocketSid, dict[int, AckCallback | Waiter]] = {}
        #: Told the seconds each answer took, when set (metrics); only then
        #: are the times the events were sent kept.
        self.on_answer: Callable[[float], None] | None = None
        self._sent_at: dict[tuple[SocketSid, int], float] = {}

    def new_id(self) -> int:
        """A fresh ack id (shared by every recipient of one emit)."""
        return next(self._ids) % _MAX_ID

    def expect(
        self, sids: Sequence[SocketSid], ack_id: int, callback: AckCallback | Waiter
    ) -> None:
        """Call ``callback(args)`` when any of ``sids`` acknowledges ``ack_id``."""
        timed = self.on_answer is not None
        now = self._mode.monotonic() if timed else 0.0
        with self._lock:
            for sid in sids:
                self._pending.setdefault(sid, {})[ack_id] = callback
                if timed:
                    self._sent_at[(sid, ack_id)] = now

    def resolve(self, sid: SocketSid, ack_id: int, args: list[Any]) -> AckCallback | Waiter | None:
        """The client acknowledged: the callback to run with ``args``, if one waits.

        A :class:`Waiter` is woken here; a plain callback is returned for the
        caller to run where user code may run.
        """
        with self._lock:
            pending = self._pending.get(sid)
            callback = pending.pop(ack_id, None) if pending else None
            sent_at = self._sent_at.pop((sid, ack_id), None) if self._sent_at else None
        if sent_at is not None and callback is not None and self.on_answer is not None:
            self.on_answer(self._mode.monotonic() - sent_at)
        if isinstance(callback, Waiter):
            callback(args)
        return callback

    def pending(self) -> int:
        """How many answers are awaited (a broadcast counts once per recipient)."""
        with self._lock:
            return sum(len(waiting) for waiting in self._pending.values())

    def forget(self, sid: SocketSid, ack_id: int) -> None:
        """Stop waiting for ``sid`` to acknowledge ``ack_id`` (a timed-out call)."""
        with self._lock:
            pending = self._pending.get(sid)
            if pending:
                pending.pop(ack_id, None)
            self._sent_at.pop((sid, ack_id), None)

    def drop(self, sid: SocketSid) -> None:
        """The client left: forget its callbacks and wake its waiters."""
        with self._lock:
            pending = self._pending.pop(sid, None)
            for ack_id in pending or ():
                self._sent_at.pop((sid, ack_id), None)
        for callback in (pending or {}).values():
            # Waiters, and answers owed to another process, learn it; a plain
            # emit() callback is dropped silently.
            abandon = getattr(callback, "abandon", None)
            if abandon is not None:
                abandon()

    def wait(
        self,
        waiter: Waiter,
        sid: SocketSid,
        ack_id: int,
        namespace: str,
        timeout: float | None,
        *,
        reported: float | None = None,
    ) -> list[Any]:
        """Block until ``waiter`` has ``sid``'s answer.

        Args:
            reported: the timeout to name in the error, when ``timeout`` is
                what was left of a longer wait shared by several clients.

        Raises:
            AckTimeout: no answer within ``timeout`` s, or the client left.
        """
        answered = waiter.wait(timeout)
        allowed = timeout if reported is None else reported
        if waiter.disconnected:
            raise AckTimeout(sid, namespace, allowed, disconnected=True)
        if not answered or waiter.args is None:
            self.forget(sid, ack_id)
            raise AckTimeout(sid, namespace, allowed)
        return waiter.args


#: Runs an emit callback with an answer's arguments, where application code runs.
RunCallback = Callable[..., None]


class AckRequests:
    """Sends events that ask for acknowledgements, and collects the answers.

    Args:
        registry: where answers are waited for.
        manager: the recipients, and the other processes.
        prepare: encodes a packet once for every recipient.
        clients: this process's sockets.
        mode: the async mode (waiters, clock).
        run: runs ``callback(*args)`` on a worker task (emit callbacks).
    """

    def __init__(
        self,
        registry: AckRegistry,
        manager: Manager,
        prepare: Callable[[SioPacket], Outgoing],
        clients: Clients,
        mode: AsyncMode,
        run: RunCallback,
    ) -> None:
        self._registry = registry
        self._manager = manager
        self._prepare = prepare
        self._clients = clients
        self._mode = mode
        self._run = run

    def emit(
        self,
        namespace: str,
        packet: SioPacket,
        rooms: Sequence[str] | None,
        exclude: set[str],
        callback: Callable[..., Any],
        *,
        here_only: bool = False,
    ) -> None:
        """Send ``packet`` to the members of ``rooms`` but ``exclude``, here and
        elsewhere (``here_only``: this process's clients only);
        ``callback(*args)`` runs once per recipient that answers."""
        skip = self._manager.excluded(namespace, exclude) if exclude else set()
        members = [m for m in self._manager.members(namespace, rooms) if m[0] not in skip]
        ack_id = self._registry.new_id()
        run = self._run

        def answered_here(args: list[Any]) -> None:
            run(callback, *args)

        self._registry.expect([sid for sid, _ in members], ack_id, answered_here)
        self._manager.deliver(namespace, self._prepare(packet.with_id(ack_id)), members)
        if self._manager.clustered and not here_only:

            def answered(sid: str, args: list[Any]) -> None:
                run(callback, *args)

            self._manager.request(
                namespace, self._prepare(packet), rooms, exclude, on_answer=answered
            )

    def call(
        self,
        namespace: str,
        packet: SioPacket,
        to: Target,
        sid: str | None,
        wait: float,
        *,
        here_only: bool = False,
    ) -> Any:
        """Send ``packet`` to ``sid`` or ``to`` and wait up to ``wait`` seconds for
        the answers (see :meth:`realtime.Server.call`); ``here_only``: to this
        process's clients only.

        Raises:
            AckTimeout: the one client addressed did not answer in time, or
                left first.
        """
        clustered = self._manager.clustered and not here_only
        single = self._own_sid(sid if sid is not None else to, namespace)
        if single is None and sid is not None:
            if not clustered:
                raise AckTimeout(sid, namespace, wait, disconnected=True)
            return self._call_elsewhere(namespace, packet, sid, wait)
        rooms = [single] if single is not None else as_rooms(to)
        members = self._manager.members(namespace, rooms)
        if single is not None:
            # A sid is its own room, but only the client itself may answer.
            members = [m for m in members if m[0] == single]
        ack_id = self._registry.new_id()
        waiters = {member: Waiter(self._mode) for member, _ in members}
        for member, waiter in waiters.items():
            self._registry.expect([member], ack_id, waiter)
        self._manager.deliver(namespace, self._prepare(packet.with_id(ack_id)), members)
        if single is not None:
            if not waiters:
                raise AckTimeout(single, namespace, wait, disconnected=True)
            target = SocketSid(single)
            answer = self._registry.wait(waiters[target], target, ack_id, namespace, wait)
            return _ack_value(answer)
        gathering = (
            self._manager.request(namespace, self._prepare(packet), rooms) if clustered else None
        )
        deadline = self._mode.monotonic() + wait
        answers: dict[str, Any] = {}
        for member, waiter in waiters.items():
            remaining = max(0.0, deadline - self._mode.monotonic())
            try:
                answers[member] = _ack_value(
                    self._registry.wait(waiter, member, ack_id, namespace, remaining, reported=wait)
                )
            except AckTimeout as exc:
                answers[member] = exc
        if gathering is None:
            return answers
        try:
            gathering.wait(deadline - self._mode.monotonic())
        finally:
            self._manager.forget(gathering)
        for remote, answer in gathering.results().items():
            answers[remote] = _answer_of(answer, remote, namespace, wait)
        if isinstance(to, str) and not members and list(answers) == [to]:
            # ``to`` named a client that another process serves: one answer.
            if isinstance(answers[to], AckTimeout):
                raise answers[to]
            return answers[to]
        return answers

    def _call_elsewhere(self, namespace: str, packet: SioPacket, sid: str, wait: float) -> Any:
        """``call(sid=...)`` for a client this process does not serve."""
        gathering: Gathering | None = None
        if self._manager.clustered:
            gathering = self._manager.request(namespace, self._prepare(packet), sid=sid)
        if gathering is None:
            raise AckTimeout(sid, namespace, wait, disconnected=True)
        try:
            gathering.wait(wait)
        finally:
            self._manager.forget(gathering)
        results = gathering.results()
        if sid not in results and gathering.complete:
            # Its process reported that it has no such client (or there is none).
            raise AckTimeout(sid, namespace, wait, disconnected=True)
        answer = _answer_of(results.get(sid), sid, namespace, wait)
        if isinstance(answer, AckTimeout):
            raise answer
        return answer

    def _own_sid(self, to: Target, namespace: str) -> str | None:
        if isinstance(to, str):
            socket = self._clients.sockets.get(SocketSid(to))
            if socket is not None and socket.namespace == namespace:
                return to
        return None


def _ack_value(args: list[Any]) -> Any:
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


def _answer_of(answer: Any, sid: str, namespace: str, wait: float) -> Any:
    """One client's entry in a gathering as :meth:`realtime.Server.call` reports it."""
    if isinstance(answer, list):
        return _ack_value(answer)
    return AckTimeout(sid, namespace, wait, disconnected=answer is GONE)
