"""What the green modes (eventlet, gevent) share: worker pools, one per hub.

:class:`GreenWorkers` keeps green threads between the calls an
:class:`~realtime.async_modes.base.AsyncMode` is given to run, and
:class:`GreenMode` is the async mode built on it, which each green mode
completes with its own library's hub and greenlets.
"""

from __future__ import annotations

import abc
import contextvars
import logging
from collections.abc import Callable
from typing import Any

from realtime.async_modes.base import AsyncMode

__all__ = ["GreenMode", "GreenWorkers"]

logger = logging.getLogger("realtime.server")


class GreenWorkers:
    """Green threads kept between calls, for :meth:`AsyncMode.submit`.

    A green thread made per call costs more than its creation: CPython 3.11
    gives every greenlet its own frame stack, mapped (``mmap``) when the
    greenlet first runs Python code and unmapped when it ends, so one green
    thread per event was a ``mmap``, a ``munmap`` and page faults per event
    (17 % of the server's time in the echo benchmark). Here a worker that has
    run its call parks itself and waits for the next; up to ``keep`` idle
    workers are kept.

    Each call runs in a fresh :mod:`contextvars` context, as it would in a
    new green thread. A worker parked in the hub that is woken by anything
    but its next call (a stray timeout thrown into it) retires; the call it
    would have got goes to another worker.

    Args:
        park: switches to the hub from a worker; returns what woke it.
        new: ``new(fn)`` makes a greenlet running ``fn`` whose parent is the hub.
        current: returns the running greenlet.
        soon: ``soon(fn, *args)`` runs ``fn(*args)`` on the hub at its next turn.
        keep: idle workers kept at most.
    """

    __slots__ = ("_current", "_held", "_holder", "_idle", "_keep", "_new", "_park", "_soon")

    def __init__(
        self,
        park: Callable[[], Any],
        new: Callable[[Callable[..., Any]], Any],
        current: Callable[[], Any],
        soon: Callable[..., Any],
        keep: int = 64,
    ) -> None:
        self._park = park
        self._new = new
        self._current = current
        self._soon = soon
        self._keep = keep
        self._idle: list[Any] = []
        # Calls held by run_holding(), and the green thread holding them.
        self._held: list[tuple[Callable[..., Any], tuple[Any, ...]]] | None = None
        self._holder: Any = None

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Run ``fn(*args)`` on an idle worker, or a new one, at the hub's next turn."""
        held = self._held
        if held is not None and self._current() is self._holder:
            held.append((fn, args))
            return
        worker = self._idle.pop() if self._idle else self._new(self._work)
        self._soon(self._wake, worker, (fn, args))

    def start_now(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Run ``fn(*args)`` on a worker at once; only from the hub itself.

        The worker runs until it blocks or finishes, then the hub goes on
        where it was: this saves the hub a scheduled call and a turn.
        """
        worker = self._idle.pop() if self._idle else self._new(self._work)
        worker.switch((fn, args))

    def run_holding(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` here, then what it submitted: a lone call runs here too.

        What the calling green thread submits while ``fn`` runs is held. If
        that is a single call (the next handler of the connection just read,
        typically), it runs in this green thread once ``fn`` has returned,
        which saves handing it to another worker and the switches that
        costs; several calls go to workers, as if submitted.
        """
        if self._held is not None:  # already holding (nested): nothing to add
            return fn(*args)
        self._holder = self._current()
        held: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._held = held
        try:
            result = fn(*args)
        finally:
            self._holder = self._held = None
        if len(held) == 1:
            call_fn, call_args = held[0]
            try:
                contextvars.Context().run(call_fn, *call_args)
            except Exception:
                logger.exception("unhandled error in a background task")
        else:
            for call_fn, call_args in held:
                self.submit(call_fn, call_args)
        return result

    def _wake(self, worker: Any, call: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
        # On the hub. A worker that retired since it was picked hands over.
        if worker.dead:
            worker = self._new(self._work)
        worker.switch(call)

    def _work(self, call: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
        idle = self._idle
        while True:
            fn, args = call
            try:
                contextvars.Context().run(fn, *args)
            except Exception:
                logger.exception("unhandled error in a background task")
            del fn, args, call
            if len(idle) >= self._keep:
                return
            me = self._current()
            idle.append(me)
            try:
                woken = self._park()
            except BaseException:
                woken = None  # something meant for an earlier call, thrown late
            if type(woken) is not tuple:
                # Not a call: retire (a call already on its way goes elsewhere).
                if me in idle:
                    idle.remove(me)
                return
            call = woken


class GreenMode(AsyncMode):
    """An async mode of green threads: calls go to :class:`GreenWorkers`, one
    pool per hub (per OS thread)."""

    cooperative = True

    def current_task(self) -> object:
        """The running green thread."""
        import greenlet  # noqa: PLC0415 - installed with every green mode

        return greenlet.getcurrent()

    def __init__(self) -> None:
        self._hub: Any = None
        self._workers: GreenWorkers | None = None
        self._pools: dict[Any, GreenWorkers] = {}

    @abc.abstractmethod
    def _current_hub(self) -> Any:
        """The hub of the calling OS thread."""

    @abc.abstractmethod
    def _new_workers(self, hub: Any) -> GreenWorkers:
        """A pool of workers on ``hub``."""

    def _workers_here(self) -> GreenWorkers:
        hub = self._current_hub()
        if hub is not self._hub:
            workers = self._pools.get(hub)
            if workers is None:
                workers = self._pools[hub] = self._new_workers(hub)
            self._hub, self._workers = hub, workers
        return self._workers  # type: ignore[return-value]

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._workers_here().submit(fn, args)

    def submit_now(self, fn: Callable[..., Any], *args: Any) -> None:
        self._workers_here().start_now(fn, args)

    def run_holding(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._workers_here().run_holding(fn, *args)
