"""realtime's embedded servers, run in a thread of the test process."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import realtime


@contextlib.contextmanager
def embedded_server(app: Any, mode: str, **options: Any) -> Iterator[str]:
    """Serve ``app`` in ``mode`` from a thread (a green mode's with its own hub);
    yields the base URL.

    On leaving, the server is stopped as a program would stop it (a green
    mode's from its own hub), and the thread must end within 10 seconds.
    """
    stop = threading.Event()
    made: list[Any] = []
    ready = threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        # Made on the thread that serves it: gevent's server binds its
        # listening socket to the hub of the thread that makes it.
        try:
            embedded = realtime.make_server(app, "127.0.0.1", 0, mode, **options)
        except BaseException as exc:
            errors.append(exc)
            ready.set()
            return
        made.append(embedded)
        ready.set()

        def stopper(sleep: Any) -> None:
            while not stop.is_set():
                sleep(0.02)
            embedded.stop()

        if mode == "eventlet":
            import eventlet

            eventlet.spawn(stopper, eventlet.sleep)
        elif mode == "gevent":
            import gevent

            gevent.spawn(stopper, gevent.sleep)
        else:
            import time

            threading.Thread(target=stopper, args=(time.sleep,), daemon=True).start()
        try:
            embedded.serve_forever()
        except SystemExit:
            pass
        except BaseException as exc:  # reported when the block ends
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    assert made, errors
    host, port = made[0].address
    try:
        yield f"http://{host}:{port}"
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive(), "the server did not stop"
    assert not errors, errors


@contextlib.contextmanager
def eventlet_server(app: Any, **options: Any) -> Iterator[str]:
    """:func:`embedded_server` in eventlet mode."""
    with embedded_server(app, "eventlet", **options) as url:
        yield url
