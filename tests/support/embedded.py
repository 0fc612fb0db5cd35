"""realtime's embedded eventlet server, run in a thread of the test process."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import realtime


@contextlib.contextmanager
def eventlet_server(app: Any, **options: Any) -> Iterator[str]:
    """Serve ``app`` from a thread (with its own hub); yields the base URL.

    On leaving, the server is stopped from its own hub, as a program would
    stop it, and the thread must end within 10 seconds.
    """
    embedded = realtime.make_server(app, "127.0.0.1", 0, "eventlet", **options)
    host, port = embedded.address
    stop = threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        import eventlet

        def stopper() -> None:
            while not stop.is_set():
                eventlet.sleep(0.02)
            embedded.stop()

        eventlet.spawn(stopper)
        try:
            embedded.serve_forever()
        except SystemExit:
            pass
        except BaseException as exc:  # reported when the block ends
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive(), "the server did not stop"
    assert not errors, errors
