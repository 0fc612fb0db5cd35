"""Each client's handlers run in the order its packets arrived.

A stock Socket.IO server handles one client's events in order; python-socketio
starts a task per event, which in threading mode lets them overtake each
other. An :class:`OrderedRunner` per connection runs its handlers one at a
time, in arrival order, on the async mode's workers (different clients still
run in parallel).

One long handler must not hold the client's later events forever (a handler
that loops, streaming until told to stop, is a common pattern): a call that
has waited behind a handler running longer than ``patience`` seconds starts
anyway. The check is one scheduler entry per connection at a time, never one
per event.

A client that sends faster than its handlers run gets back-pressure: once
``limit`` calls wait, :meth:`OrderedRunner.backlogged` says so, and the
engine stops reading that client until half of them have run (then it is
called back). Its memory stays bounded, and every event read is handled, in
order.
"""

from __future__ import annotations

import collections
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.async_modes.base import Lock
    from realtime.engine.scheduler import Scheduler, TimerHandle

__all__ = ["PATIENCE", "PENDING_LIMIT", "OrderedRunner"]

logger = logging.getLogger("realtime.socketio")

#: Seconds a client's next handler waits behind a running one before it
#: starts alongside it.
PATIENCE = 0.5

#: Calls of one client waiting for a worker before reading it pauses (the
#: ``max_pending_events`` option).
PENDING_LIMIT = 256

Call = tuple[Callable[..., Any], tuple[Any, ...]]


class OrderedRunner:
    """Runs one client's calls in order, one at a time, but never stuck behind one.

    Args:
        mode: the async mode (workers, lock, clock).
        scheduler: where the patience check is scheduled.
        patience: seconds before queued calls stop waiting for a running one.
        limit: queued calls past which :meth:`backlogged` is true.
    """

    __slots__ = (
        "_calls",
        "_check",
        "_limit",
        "_lock",
        "_mode",
        "_patience",
        "_resumes",
        "_running",
        "_scheduler",
        "_workers",
    )

    def __init__(
        self,
        mode: AsyncMode,
        scheduler: Scheduler,
        patience: float = PATIENCE,
        limit: int = PENDING_LIMIT,
    ) -> None:
        self._mode = mode
        self._scheduler = scheduler
        self._patience = patience
        self._limit = limit
        # Who to call back once the queue is down to half the limit.
        self._resumes: list[Callable[[], None]] | None = None
        # Green threads switch only where they block, and no section below
        # blocks: in a cooperative mode each is atomic as it is, and the
        # lock (several Python calls per event) is left out.
        self._lock: Lock | None = None if mode.cooperative else mode.lock()
        # Made when a call comes and dropped when none is left: an idle
        # connection keeps no deque (a deque is some 600 bytes).
        self._calls: collections.deque[Call] | None = None
        # Start time of the call each worker is running (None: between calls).
        self._running: dict[int, float | None] = {}
        self._check: TimerHandle | None = None
        self._workers = itertools.count()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` after everything submitted before it, or alongside
        a call that has run longer than the patience."""
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            calls = self._calls
            if calls is None:
                calls = self._calls = collections.deque()
            calls.append((fn, args))
            if not self._running or self._all_stuck(self._mode.monotonic()):
                self._start_worker_locked()
            else:
                self._plan_check_locked()
        finally:
            if lock is not None:
                lock.release()

    def backlogged(self, resume: Callable[[], None]) -> bool:
        """Whether ``limit`` calls or more wait; if so, ``resume()`` is called
        (from a worker) once no more than half of the limit wait."""
        calls = self._calls
        if calls is None or len(calls) < self._limit:
            return False  # the usual answer, without the lock
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            calls = self._calls
            if calls is None or len(calls) < self._limit:
                return False
            if self._resumes is None:
                self._resumes = []
            self._resumes.append(resume)
            return True
        finally:
            if lock is not None:
                lock.release()

    @property
    def pending(self) -> int:
        """How many calls wait for a worker."""
        calls = self._calls
        return 0 if calls is None else len(calls)

    def _all_stuck(self, now: float) -> bool:
        return all(
            started is not None and now - started >= self._patience
            for started in self._running.values()
        )

    def _start_worker_locked(self) -> None:
        worker = next(self._workers)
        self._running[worker] = None
        self._mode.submit(self._work, worker)

    def _plan_check_locked(self) -> None:
        if self._check is not None:
            return
        youngest = max((s for s in self._running.values() if s is not None), default=None)
        when = (youngest if youngest is not None else self._mode.monotonic()) + self._patience
        self._check = self._scheduler.call_at(when, self._on_check)

    def _on_check(self, now: float) -> None:
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            self._check = None
            if not self._calls:
                return
            if self._all_stuck(now):
                self._start_worker_locked()
            else:
                self._plan_check_locked()
        finally:
            if lock is not None:
                lock.release()

    def _work(self, worker: int) -> None:
        # One locked section between two calls: the worker goes from one
        # call to the next (or away) in a single step.
        lock = self._lock
        monotonic = self._mode.monotonic
        running = self._running
        low = self._limit // 2
        if lock is not None:
            lock.acquire()
        try:
            while True:
                calls = self._calls
                if not calls:
                    # Nothing left: this worker goes, and so does the deque.
                    self._calls = None
                    del running[worker]
                    resumes, self._resumes = self._resumes, None
                    break
                fn, args = calls.popleft()
                running[worker] = monotonic()
                resumes = None
                if self._resumes is not None and len(calls) <= low:
                    resumes, self._resumes = self._resumes, None
                if lock is not None:
                    lock.release()
                try:
                    if resumes:
                        _resume(resumes)
                    fn(*args)
                except Exception:
                    logger.exception("unhandled error in a handler")
                finally:
                    if lock is not None:
                        lock.acquire()
        finally:
            if lock is not None:
                lock.release()
        if resumes:
            _resume(resumes)


def _resume(resumes: list[Callable[[], None]]) -> None:
    for resume in resumes:
        try:
            resume()
        except Exception:
            logger.exception("error resuming a paused reader")
