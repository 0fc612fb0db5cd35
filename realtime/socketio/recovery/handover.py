"""Handing a recoverable socket over between the processes of a deployment.

A client that comes back may land on any process. That process asks every
other one for the socket (a question, see
:mod:`realtime.socketio.managers.queries`): the one that holds it, connected
(its old connection is closed first, as dropped) or dropped, hands its
state over and forgets it. If no process holds it, the record the process
that served it left in Redis (:mod:`realtime.socketio.recovery.redis_records`)
is taken over, provided that process is gone: one heard from lately that
did not answer may still hold the socket, so the asker waits for it to
answer or to be found gone. A hand-over that never reaches its asker, or
reaches it too late, is taken back, never lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from realtime.exceptions import BrokerUnavailable
from realtime.socketio.recovery.redis_records import snapshot_from, snapshot_to

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.socketio.managers.broker_link import BrokerLink
    from realtime.socketio.managers.queries import Queries
    from realtime.socketio.recovery.options import Snapshot
    from realtime.socketio.recovery.redis_records import RecordStore

__all__ = ["TAKEOVER_TIMEOUT", "Handover"]

#: Seconds a resuming client waits for another process to hand its socket over.
TAKEOVER_TIMEOUT = 6.0
#: Seconds before asking again for a socket a silent process may hold.
_ASK_AGAIN = 0.25
_TAKEOVER = "recovery.takeover"


class Handover:
    """This process's side of handing sockets over (see the module's notes).

    Args:
        queries: questions to every other process.
        link: the link to the broker (which processes were heard lately).
        records: this process's records, in Redis.
        node: this process's node id.
        errors: the base class of the Redis client's errors.
        mode: the async mode.
        let_go: closes this process's connection of a socket, as dropped,
            and waits until it has left.
        logger: where hand-overs are reported.
    """

    def __init__(
        self,
        queries: Queries,
        link: BrokerLink,
        records: RecordStore,
        node: str,
        errors: type[Exception],
        mode: AsyncMode,
        let_go: Callable[[str], None],
        logger: logging.Logger,
    ) -> None:
        self._queries = queries
        self._link = link
        self._records = records
        self._node = node
        self._errors = errors
        self._mode = mode
        self._let_go = let_go
        self._logger = logger
        queries.serve(_TAKEOVER, self._hand_over, self._handed_back)

    def take(self, pid: str) -> Snapshot | None:
        """The state of socket ``pid``, wherever it is kept, now this process's;
        None if nobody keeps it.

        Raises:
            BrokerUnavailable: it may be kept somewhere that cannot be asked now.
        """
        snapshot = self._records.take_local(pid)
        if snapshot is not None:
            return snapshot
        deadline = time.monotonic() + TAKEOVER_TIMEOUT
        while True:
            found, unsure = self._take_elsewhere(pid)
            if found is not None or not unsure:
                return found
            if time.monotonic() >= deadline:
                raise BrokerUnavailable(
                    f"process(es) {', '.join(sorted(unsure))} did not answer for a client "
                    "to recover"
                )
            # A process heard from lately did not answer: it is dying (the
            # probes will tell soon) or subscribing again; ask again then.
            self._mode.sleep(_ASK_AGAIN)

    def _take_elsewhere(self, pid: str) -> tuple[Snapshot | None, set[str]]:
        """The state another process hands over, or the record of a process
        that is gone; and the processes that may hold it but did not answer.

        Raises:
            BrokerUnavailable: Redis cannot be reached.
        """
        try:
            answers = self._queries.ask_all(
                _TAKEOVER,
                {"pid": pid},
                TAKEOVER_TIMEOUT,
                enough=lambda a: a.answer is not None,
            )
            for answer in answers.answers:
                found = snapshot_from(answer.answer.get("snapshot")) if answer.answer else None
                if found is not None:
                    return found, set()
            alive = answers.nodes | {self._node}
            # Never take the record of a process heard from lately that did
            # not answer: it may still hold the socket.
            unsure = self._link.peers() - alive
            return self._records.claim(pid, alive | unsure), unsure
        except self._errors as exc:
            raise BrokerUnavailable(f"cannot look up a client to recover: {exc}") from exc

    def _hand_over(self, question: dict[str, Any]) -> dict[str, Any] | None:
        """Another process resumes ``question["pid"]``: let go of it, and hand its state over."""
        pid = question.get("pid")
        if not isinstance(pid, str):
            return None
        self._let_go(pid)
        snapshot = self._records.take_local(pid)
        if snapshot is None:
            return None
        self._records.left(pid)
        return {"snapshot": snapshot_to(snapshot)}

    def _handed_back(self, answer: dict[str, Any]) -> None:
        """A socket's state handed over never reached its asker: keep it here."""
        snapshot = snapshot_from(answer.get("snapshot"))
        if snapshot is not None:
            self._logger.info("keeping %s for recovery: its hand-over was lost", snapshot.sid)
            self._records.dropped(snapshot)
