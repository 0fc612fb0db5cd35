"""Deadlines for every session, served by one task.

Each session keeps at most a couple of pending deadlines (its heartbeat, an
upgrade in progress); a single task sleeps until the earliest one instead of
a timer or thread per session. Callbacks run on that task and must be quick
and non-blocking: they queue a ping or hand slow work to the worker pool.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable

from realtime.async_modes import AsyncMode

__all__ = ["Scheduler", "TimerHandle"]

logger = logging.getLogger("realtime.engine")


class TimerHandle:
    """A scheduled call; :meth:`cancel` keeps it from running."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[float], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """Runs callbacks at monotonic deadlines on one background task.

    Args:
        mode: the async mode whose task, event and clock to use.
    """

    def __init__(self, mode: AsyncMode) -> None:
        self._mode = mode
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._counter = itertools.count()
        self._lock = mode.lock()
        self._wakeup = mode.event()
        self._running = False
        self._generation = 0

    def call_at(self, when: float, callback: Callable[[float], None]) -> TimerHandle:
        """Call ``callback(now)`` at monotonic time ``when`` (or soon after)."""
        handle = TimerHandle(when, callback)
        with self._lock:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (when, next(self._counter), handle))
            start = not self._running
            if start:
                self._running = True
        if start:
            self._mode.spawn(self._run, self._generation)
        elif earliest is None or when < earliest:
            self._wakeup.set()
        return handle

    def call_later(self, delay: float, callback: Callable[[float], None]) -> TimerHandle:
        """Call ``callback(now)`` after ``delay`` seconds."""
        return self.call_at(self._mode.monotonic() + delay, callback)

    def stop(self) -> None:
        """Drop every pending call and end the background task.

        A later :meth:`call_at` starts a new task.
        """
        with self._lock:
            self._generation += 1
            self._running = False
            self._heap.clear()
        self._wakeup.set()

    def _run(self, generation: int) -> None:
        while True:
            due: list[TimerHandle] = []
            with self._lock:
                if generation != self._generation:
                    return
                now = self._mode.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
                wait = self._heap[0][0] - now if self._heap else None
                self._wakeup.clear()
            for handle in due:
                if not handle.cancelled:
                    try:
                        handle.callback(now)
                    except Exception:
                        logger.exception("error in a timer callback")
            if not due:
                self._wakeup.wait(wait)
