"""The answers one emit asked of clients on other server processes.

An emit with a callback, or a ``call()``, that may reach clients served by
other processes of a deployment is published once through the broker. Each
process that receives it reports which of its clients it delivered it to,
then each client's answer (or that the client left) as it comes. A
:class:`Gathering` collects those reports on the process that asked.

It is complete once every process has reported and every reported client has
answered or left. How many processes will report is known when the broker
counts the receivers of a message (Redis does); otherwise a gathering is
never complete and its waiter runs to its deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode

__all__ = ["GONE", "REPORT_WINDOW", "Gathering", "Gatherings"]

#: Seconds after which a gathering for emit() callbacks stops expecting
#: reports from processes, when the broker cannot count them.
REPORT_WINDOW = 10.0


class _Gone:
    """The answer of a client that left (or was never reached) before answering."""

    def __repr__(self) -> str:
        return "GONE"


#: The answer of a client that left before answering.
GONE: Any = _Gone()
_PENDING: Any = object()

#: Called with (sid, ack arguments) for each answer, on the broker's task.
AnswerCallback = Callable[[str, list[Any]], None]


class Gathering:
    """Reports and answers from the processes one request reached.

    Args:
        mode: the async mode (lock and event).
        on_answer: called with each answer as it arrives (emit callbacks).
        key: how the manager that made it finds it again.
    """

    __slots__ = ("_answers", "_done", "_expected", "_lock", "_on_answer", "_reports", "key")

    def __init__(
        self, mode: AsyncMode, on_answer: AnswerCallback | None = None, key: str | None = None
    ) -> None:
        self.key = key
        self._lock = mode.lock()
        self._done = mode.event()
        self._on_answer = on_answer
        self._answers: dict[str, Any] = {}
        self._expected: int | None = None
        self._reports = 0

    def expect(self, reports: int | None) -> None:
        """How many processes will report (None: unknown)."""
        with self._lock:
            self._expected = reports
            self._check_locked()

    def report(self, sids: Iterable[str]) -> None:
        """A process delivered the request to ``sids``."""
        with self._lock:
            for sid in sids:
                self._answers.setdefault(sid, _PENDING)
            self._reports += 1
            self._check_locked()

    def answer(self, sid: str, args: list[Any]) -> None:
        """Client ``sid`` acknowledged with ``args``."""
        with self._lock:
            if self._answers.get(sid, _PENDING) is not _PENDING:
                return
            self._answers[sid] = args
            self._check_locked()
        if self._on_answer is not None:
            self._on_answer(sid, args)

    def gone(self, sid: str) -> None:
        """Client ``sid`` left without answering."""
        with self._lock:
            if self._answers.get(sid, _PENDING) is _PENDING:
                self._answers[sid] = GONE
                self._check_locked()

    def _check_locked(self) -> None:
        if self.complete_locked():
            self._done.set()

    def complete_locked(self) -> bool:
        return (
            self._expected is not None
            and self._reports >= self._expected
            and all(a is not _PENDING for a in self._answers.values())
        )

    @property
    def complete(self) -> bool:
        """Every process reported and every client reached answered or left."""
        with self._lock:
            return self.complete_locked()

    @property
    def waiting_for_clients(self) -> bool:
        """Some client reached has neither answered nor left."""
        with self._lock:
            return any(a is _PENDING for a in self._answers.values())

    def wait(self, timeout: float) -> bool:
        """Block until complete or ``timeout`` seconds passed; True if complete."""
        return bool(self._done.wait(max(0.0, timeout)))

    def results(self) -> dict[str, Any]:
        """Each client reached: its ack arguments, :data:`GONE`, or None if it has not answered."""
        with self._lock:
            return {sid: (None if a is _PENDING else a) for sid, a in self._answers.items()}


class _Entry:
    __slots__ = ("auto_forget", "gathering", "started")

    def __init__(self, gathering: Gathering, auto_forget: bool) -> None:
        self.gathering = gathering
        self.auto_forget = auto_forget
        self.started = time.monotonic()


class Gatherings:
    """This process's open requests to the others, by request id.

    A ``call()`` forgets its gathering when it stops waiting; an emit
    callback's gathering is dropped once nothing more can come (every
    process reported and every client answered or left, or, when the broker
    cannot count the processes, :data:`REPORT_WINDOW` seconds passed and no
    client reached is still expected).

    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def open(self, rid: str, mode: AsyncMode, on_answer: AnswerCallback | None) -> Gathering:
        """A new gathering for request ``rid``; ``on_answer`` makes it an emit callback's."""
        gathering = Gathering(mode, on_answer, key=rid)
        self._entries[rid] = _Entry(gathering, auto_forget=on_answer is not None)
        return gathering

    def forget(self, gathering: Gathering) -> None:
        """Its caller stopped waiting."""
        if gathering.key is not None:
            self._entries.pop(gathering.key, None)

    def report(self, rid: str, sids: list[str]) -> None:
        """A process delivered request ``rid`` to ``sids``."""
        entry = self._entries.get(rid)
        if entry is not None:
            entry.gathering.report(sids)
            self.settle(rid)

    def answer(self, rid: str, sid: str, args: list[Any]) -> None:
        """Client ``sid`` answered request ``rid``."""
        entry = self._entries.get(rid)
        if entry is not None:
            entry.gathering.answer(sid, args)
            self.settle(rid)

    def gone(self, rid: str, sid: str) -> None:
        """Client ``sid`` left without answering request ``rid``."""
        entry = self._entries.get(rid)
        if entry is not None:
            entry.gathering.gone(sid)
            self.settle(rid)

    def settle(self, rid: str) -> None:
        """Drop an emit callback's gathering once nothing more can come."""
        entry = self._entries.get(rid)
        if entry is None or not entry.auto_forget:
            return
        gathering = entry.gathering
        window_over = time.monotonic() - entry.started >= REPORT_WINDOW
        if gathering.complete or (window_over and not gathering.waiting_for_clients):
            self._entries.pop(rid, None)

    def settle_later(self, rid: str, mode: AsyncMode) -> None:
        """Settle ``rid`` after the report window (the broker could not count)."""
        mode.sleep(REPORT_WINDOW)
        self.settle(rid)
