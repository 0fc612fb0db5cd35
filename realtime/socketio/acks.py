"""Acknowledgements the server asked clients for.

Every event the server emits with a callback (or through ``call``) carries
an ack id. Ids come from one counter per server, so a broadcast uses the
same id for every recipient and is still encoded once; a pending ack is
keyed by (client sid, id).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from realtime.exceptions import AckTimeout

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.protocol.socketio import SocketSid

__all__ = ["AckRegistry", "Waiter"]

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

    def new_id(self) -> int:
        """A fresh ack id (shared by every recipient of one emit)."""
        return next(self._ids) % _MAX_ID

    def expect(
        self, sids: Sequence[SocketSid], ack_id: int, callback: AckCallback | Waiter
    ) -> None:
        """Call ``callback(args)`` when any of ``sids`` acknowledges ``ack_id``."""
        with self._lock:
            for sid in sids:
                self._pending.setdefault(sid, {})[ack_id] = callback

    def resolve(self, sid: SocketSid, ack_id: int, args: list[Any]) -> AckCallback | Waiter | None:
        """The client acknowledged: the callback to run with ``args``, if one waits.

        A :class:`Waiter` is woken here; a plain callback is returned for the
        caller to run where user code may run.
        """
        with self._lock:
            pending = self._pending.get(sid)
            callback = pending.pop(ack_id, None) if pending else None
        if isinstance(callback, Waiter):
            callback(args)
        return callback

    def forget(self, sid: SocketSid, ack_id: int) -> None:
        """Stop waiting for ``sid`` to acknowledge ``ack_id`` (a timed-out call)."""
        with self._lock:
            pending = self._pending.get(sid)
            if pending:
                pending.pop(ack_id, None)

    def drop(self, sid: SocketSid) -> None:
        """The client left: forget its callbacks and wake its waiters."""
        with self._lock:
            pending = self._pending.pop(sid, None)
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
