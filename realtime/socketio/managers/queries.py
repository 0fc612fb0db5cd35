"""Questions one process asks every other, and their answers, over the broker.

``ask_all(kind, question)`` publishes ``m.query`` to every process; each one
that serves that ``kind`` answers the asker with ``m.reply``. The broker says
how many processes got the question (Redis does), so the asker stops waiting
as soon as all have answered, or as soon as one answer is enough, or at the
timeout. Handlers run on worker tasks, never on the broker's listener, since
an answer may wait (for a client's disconnect handler, say).

Messages (see :mod:`realtime.socketio.managers.broker_link` for the envelope):

============  ============  ================================================
op            to            fields
============  ============  ================================================
``m.query``   every process from, rid, kind, q: the question (a map); quiet: answer
                            nothing (:meth:`Queries.tell_all`)
``m.reply``   the asker     from, rid, k: the kind, a: the answer (a map, or nil)
============  ============  ================================================
"""

from __future__ import annotations

import collections
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from realtime.exceptions import BrokerUnavailable

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.async_modes.base import Event
    from realtime.socketio.managers.broker_link import BrokerLink

__all__ = ["Answer", "Answers", "Queries", "QueryHandler", "Unanswered"]

#: Questions given up that are remembered, for answers that come late.
_KINDS_KEPT = 1024

#: Answers a question (a map) with a map, or None for "nothing here".
QueryHandler = Callable[[dict[str, Any]], dict[str, Any] | None]
#: Takes back an answer that never reached its asker (or came too late).
Unanswered = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Answer:
    """One process's answer."""

    node: str
    answer: dict[str, Any] | None


@dataclass
class Answers:
    """What came back to one question.

    Attributes:
        answers: each answer received, in arrival order.
        expected: how many processes got the question (None: unknown).
        complete: every process that got it answered.
    """

    answers: list[Answer] = field(default_factory=list)
    expected: int | None = None
    complete: bool = False

    @property
    def nodes(self) -> set[str]:
        """The processes that answered."""
        return {a.node for a in self.answers}


class _Pending:
    __slots__ = ("answers", "done", "enough")

    def __init__(self, event: Event, enough: Callable[[Answer], bool] | None) -> None:
        self.answers = Answers()
        self.done = event
        self.enough = enough

    def add(self, answer: Answer) -> None:
        self.answers.answers.append(answer)
        expected = self.answers.expected
        if expected is not None and len(self.answers.answers) >= expected:
            self.answers.complete = True
            self.done.set()
        elif self.enough is not None and self.enough(answer):
            self.done.set()


class Queries:
    """Questions to every process, and this process's answers.

    Args:
        link: the link to the broker.
        mode: the async mode (events, worker tasks).
        logger: where failing handlers are reported.
    """

    def __init__(self, link: BrokerLink, mode: AsyncMode, logger: logging.Logger) -> None:
        self._link = link
        self._mode = mode
        self._logger = logger
        self._handlers: dict[str, tuple[QueryHandler, Unanswered | None]] = {}
        self._pending: dict[str, _Pending] = {}
        # The kind of each question given up lately (for late answers).
        self._kinds: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._ids = itertools.count(1)

    def serve(self, kind: str, handler: QueryHandler, lost: Unanswered | None = None) -> None:
        """Answer questions of ``kind`` with ``handler`` (on a worker task).

        ``lost`` takes back an answer that could not reach its asker, or
        that reached it after it stopped waiting (what an answer hands over
        must not vanish).
        """
        self._handlers[kind] = (handler, lost)

    def ask_all(
        self,
        kind: str,
        question: dict[str, Any],
        timeout: float,
        enough: Callable[[Answer], bool] | None = None,
    ) -> Answers:
        """Ask every other process; their answers, when all came, or ``enough``
        said one is enough, or ``timeout`` seconds passed.

        Raises:
            BrokerUnavailable: the broker cannot be reached, or this process
                does not hear the others yet (their answers would be lost).
        """
        if not self._link.connected:
            raise BrokerUnavailable("this process does not hear the others yet")
        rid = f"{self._link.node_id}:{next(self._ids)}"
        pending = self._pending[rid] = _Pending(self._mode.event(), enough)
        try:
            receivers = self._link.send_all(
                {
                    "op": "m.query",
                    "from": self._link.node_id,
                    "rid": rid,
                    "kind": kind,
                    "q": question,
                }
            )
            if receivers is not None:
                # This process gets its own question and leaves it unanswered.
                pending.answers.expected = max(0, receivers - 1)
                if len(pending.answers.answers) >= pending.answers.expected:
                    pending.answers.complete = True
                    return pending.answers
            pending.done.wait(timeout)
            return pending.answers
        finally:
            del self._pending[rid]
            self._kinds[rid] = kind
            while len(self._kinds) > _KINDS_KEPT:
                self._kinds.popitem(last=False)

    def tell_all(self, kind: str, question: dict[str, Any]) -> int | None:
        """Publish ``question`` to every other process, which handles it and
        answers nothing (``quiet``); how many processes got it, if known.

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """
        rid = f"{self._link.node_id}:{next(self._ids)}"
        message = {"op": "m.query", "from": self._link.node_id, "rid": rid, "kind": kind}
        return self._link.send_all({**message, "q": question, "quiet": True})

    # -- messages from the broker -----------------------------------------------

    def on_query(self, message: dict[str, Any]) -> None:
        """``m.query`` from another process: answer it on a worker task."""
        kind = str(message["kind"])
        served = self._handlers.get(kind)
        origin, rid, question = str(message["from"]), str(message["rid"]), message["q"]
        quiet = bool(message.get("quiet"))
        if served is None or not isinstance(question, dict):
            if not quiet:
                self._reply(origin, rid, kind, None)
            return
        self._mode.spawn(self._answer, served[0], origin, rid, kind, question, quiet)

    def _answer(
        self,
        handler: QueryHandler,
        origin: str,
        rid: str,
        kind: str,
        question: dict[str, Any],
        quiet: bool = False,
    ) -> None:
        try:
            answer = handler(question)
        except Exception:
            self._logger.exception("error answering a question from process %s", origin)
            answer = None
        if not quiet:
            self._reply(origin, rid, kind, answer)

    def _reply(self, origin: str, rid: str, kind: str, answer: dict[str, Any] | None) -> None:
        message = {"op": "m.reply", "from": self._link.node_id, "rid": rid, "k": kind, "a": answer}
        if not self._link.send(origin, message) and answer is not None:
            self._take_back(kind, answer)

    def _take_back(self, kind: str, answer: dict[str, Any]) -> None:
        served = self._handlers.get(kind)
        if served is not None and served[1] is not None:
            try:
                served[1](answer)
            except Exception:
                self._logger.exception("error taking back an answer of kind %r", kind)

    def on_reply(self, message: dict[str, Any]) -> None:
        """``m.reply``: an answer to one of this process's questions."""
        rid = str(message["rid"])
        pending = self._pending.get(rid)
        answer = message.get("a")
        if not isinstance(answer, dict):
            answer = None
        if pending is not None:
            pending.add(Answer(str(message["from"]), answer))
        elif answer is not None:
            # It came after the question was given up: keep what it hands over.
            self._take_back(str(message.get("k", self._kinds.get(rid, ""))), answer)
