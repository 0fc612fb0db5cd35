"""The scheduler that serves every session's deadlines from one task."""

from __future__ import annotations

import threading

from realtime.async_modes.threading_mode import ThreadingMode
from realtime.engine.scheduler import Scheduler


def test_calls_run_in_deadline_order() -> None:
    mode = ThreadingMode()
    scheduler = Scheduler(mode)
    order: list[str] = []
    done = threading.Event()
    now = mode.monotonic()
    scheduler.call_at(now + 0.15, lambda t: (order.append("late"), done.set()))
    scheduler.call_at(now + 0.05, lambda t: order.append("early"))
    cancelled = scheduler.call_at(now + 0.10, lambda t: order.append("cancelled"))
    cancelled.cancel()
    assert done.wait(5)
    assert order == ["early", "late"]
    scheduler.stop()


def test_a_failing_callback_does_not_stop_the_others() -> None:
    scheduler = Scheduler(ThreadingMode())
    done = threading.Event()
    scheduler.call_later(0.01, lambda t: 1 / 0)
    scheduler.call_later(0.05, lambda t: done.set())
    assert done.wait(5)
    scheduler.stop()


def test_calls_after_stop_start_a_new_task() -> None:
    scheduler = Scheduler(ThreadingMode())
    scheduler.call_later(0.01, lambda t: None)
    scheduler.stop()
    done = threading.Event()
    scheduler.call_later(0.01, lambda t: done.set())
    assert done.wait(5)
    scheduler.stop()
