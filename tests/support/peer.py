"""A python-socketio client that records what it receives, for tests."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import socketio

TRANSPORTS = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}


class InOrder:
    """Makes a python-socketio client handle its messages in the order they came.

    python-engineio's client starts a new thread for every message it
    receives, so two events that arrive back to back can reach their handlers
    in either order: a test that checks the order the server kept would see
    the client's scheduling instead. Here one thread at a time takes the
    messages in arrival order (it ends when none is left). A handler must not
    wait for a later message of the same client (``call()`` from a handler):
    pass ``in_order=False`` to :class:`Peer` for that.
    """

    def __init__(self, client: socketio.Client) -> None:
        eio = client.eio
        self._trigger = eio._trigger_event
        self._waiting: collections.deque[tuple[Any, ...]] = collections.deque()
        self._lock = threading.Lock()
        self._running = False
        eio._trigger_event = self._on_event  # type: ignore[method-assign]

    def _on_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event != "message" or not kwargs.get("run_async"):
            return self._trigger(event, *args, **kwargs)
        with self._lock:
            self._waiting.append(args)
            if self._running:
                return None
            self._running = True
        threading.Thread(target=self._drain, daemon=True).start()
        return None

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._running = False
                    return
                args = self._waiting.popleft()
            self._trigger("message", *args, run_async=False)


class Peer:
    """A python-socketio client and what it received, by event.

    With ``offsets``, the server has connection state recovery on: the last
    argument of each event is its offset, which is not recorded. Messages are
    handled in the order they arrived (:class:`InOrder`) unless ``in_order``
    is false.
    """

    def __init__(self, offsets: bool = False, in_order: bool = True, **options: Any) -> None:
        self.client = socketio.Client(reconnection=False, **options)
        if in_order:
            InOrder(self.client)
        self.offsets = offsets
        self.events: dict[str, list[tuple[Any, ...]]] = {}
        self.disconnect_reasons: list[str] = []
        self.connect_errors: list[Any] = []
        self._changed = threading.Condition()
        self.client.on("*", self._record)
        self.client.on("*", self._record_any_namespace, namespace="*")
        self.client.on("disconnect", self._disconnected)
        self.client.on("connect_error", self._refused)

    def _record(self, event: str, *args: Any) -> None:
        if self.offsets:
            args = args[:-1]
        with self._changed:
            self.events.setdefault(event, []).append(args)
            self._changed.notify_all()

    def _record_any_namespace(self, event: str, namespace: str, *args: Any) -> None:
        self._record(event, *args)

    def _disconnected(self, reason: str = "") -> None:
        with self._changed:
            self.disconnect_reasons.append(str(reason))
            self._changed.notify_all()

    def _refused(self, data: Any = None) -> None:
        with self._changed:
            self.connect_errors.append(data)
            self._changed.notify_all()

    def wait(self, event: str, count: int = 1, timeout: float = 10) -> list[tuple[Any, ...]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.events.get(event, [])) >= count, timeout)
            return list(self.events.get(event, []))

    def wait_disconnect(self, timeout: float = 10) -> list[str]:
        with self._changed:
            self._changed.wait_for(lambda: bool(self.disconnect_reasons), timeout)
            return list(self.disconnect_reasons)


def connect_peer(
    url: str,
    transports: list[str],
    *,
    auth: Any = None,
    namespaces: list[str] | None = None,
    headers: dict[str, str] | None = None,
    **options: Any,
) -> Peer:
    """A connected Peer; with two transports, waits until it is on WebSocket."""
    peer = Peer(**options)
    peer.client.connect(
        url,
        transports=transports,
        auth=auth,
        namespaces=namespaces,
        headers=headers or {},
        wait_timeout=10,
    )
    if len(transports) == 2:
        for _ in range(100):
            if peer.client.transport() == "websocket":
                break
            time.sleep(0.05)
    return peer
