"""The green modes' workers: reused between calls, each call in a fresh context."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from typing import Any

import greenlet
import pytest

from realtime.async_modes import AsyncMode, get_async_mode

pytestmark = pytest.mark.parametrize("mode_name", ["eventlet", "gevent"])

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


def in_own_thread(body: Callable[[AsyncMode], None], mode_name: str) -> None:
    """Run ``body`` in a thread of its own, where the mode's hub is new."""
    mode = get_async_mode(mode_name)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            body(mode)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    if failures:
        raise failures[0]


def test_workers_are_reused(mode_name: str) -> None:
    def body(mode: AsyncMode) -> None:
        ran_on: list[Any] = []
        for _ in range(4):
            for _ in range(5):
                mode.submit(lambda: ran_on.append(greenlet.getcurrent()))
            mode.sleep(0.01)
        assert len(ran_on) == 20
        # Five at a time: five workers, then the same five again.
        assert len({id(g) for g in ran_on}) == 5

    in_own_thread(body, mode_name)


def test_each_call_gets_a_fresh_context(mode_name: str) -> None:
    def body(mode: AsyncMode) -> None:
        seen: list[str] = []

        def first() -> None:
            seen.append(VAR.get())
            VAR.set("leaked?")

        def second() -> None:
            seen.append(VAR.get())

        mode.submit(first)
        mode.sleep(0.01)
        mode.submit(second)
        mode.sleep(0.01)
        assert seen == ["unset", "unset"]

    in_own_thread(body, mode_name)


def test_an_error_is_logged_and_the_worker_goes_on(
    mode_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    def body(mode: AsyncMode) -> None:
        ran_on: list[Any] = []

        def fail() -> None:
            ran_on.append(greenlet.getcurrent())
            raise ValueError("boom")

        mode.submit(fail)
        mode.sleep(0.01)
        mode.submit(lambda: ran_on.append(greenlet.getcurrent()))
        mode.sleep(0.01)
        assert len(ran_on) == 2 and ran_on[0] is ran_on[1]

    with caplog.at_level(logging.ERROR, logger="realtime.server"):
        in_own_thread(body, mode_name)
    assert any("boom" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_a_timeout_left_armed_retires_its_worker(mode_name: str) -> None:
    # A call that arms a timeout and returns without cancelling it: the
    # timeout fires into the parked worker later. That worker retires, and
    # calls still run.
    def body(mode: AsyncMode) -> None:
        ran_on: list[Any] = []

        def careless() -> None:
            ran_on.append(greenlet.getcurrent())
            if mode_name == "eventlet":
                import eventlet

                eventlet.Timeout(0.01)
            else:
                import gevent

                gevent.Timeout(0.01).start()

        mode.submit(careless)
        mode.sleep(0.05)
        assert ran_on[0].dead
        mode.submit(lambda: ran_on.append(greenlet.getcurrent()))
        mode.sleep(0.01)
        assert len(ran_on) == 2 and ran_on[1] is not ran_on[0]

    in_own_thread(body, mode_name)


def test_run_holding_runs_a_lone_submitted_call_in_place(mode_name: str) -> None:
    def body(mode: AsyncMode) -> None:
        order: list[str] = []
        done = mode.event()

        def reader() -> None:
            me = greenlet.getcurrent()

            def read() -> str:
                mode.submit(
                    lambda: order.append(
                        "handler " + ("here" if greenlet.getcurrent() is me else "elsewhere")
                    )
                )
                order.append("read")
                return "result"

            assert mode.run_holding(read) == "result"
            order.append("after")
            done.set()

        mode.submit(reader)
        assert done.wait(5)
        assert order == ["read", "handler here", "after"]

    in_own_thread(body, mode_name)


def test_run_holding_hands_several_calls_to_workers(mode_name: str) -> None:
    def body(mode: AsyncMode) -> None:
        ran: list[tuple[str, bool]] = []

        def reader() -> None:
            me = greenlet.getcurrent()

            def read() -> None:
                for name in ("a", "b"):
                    mode.submit(lambda n=name: ran.append((n, greenlet.getcurrent() is me)))

            mode.run_holding(read)

        mode.submit(reader)
        mode.sleep(0.02)
        assert sorted(ran) == [("a", False), ("b", False)]

    in_own_thread(body, mode_name)
