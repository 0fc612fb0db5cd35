"""The eventlet async mode: green primitives, the mode, and sockets handed over.

Holds the locks, events and queues green threads wait on, :class:`EventletMode`
(the :class:`~realtime.async_modes.base.AsyncMode` on eventlet's hub), the
hang-up watch, and the socket a WebSocket takes over, which on realtime's
embedded server (:mod:`realtime.async_modes.eventlet_server`) can be served
from the hub with no green thread of its own.

Works without monkey patching: everything realtime waits on is green. An app
that does blocking I/O of its own (database drivers, HTTP clients) still needs
``eventlet.monkey_patch()`` at the top of its entry point.
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import queue
import socket
import warnings
import weakref
from collections.abc import Callable
from types import ModuleType
from typing import Any

with warnings.catch_warnings():
    # eventlet announces its maintenance mode on import; the choice of mode
    # is the user's, the warning is noise to them.
    warnings.simplefilter("ignore")
    import eventlet
    import eventlet.greenthread
    import eventlet.hubs
    import eventlet.queue
    import eventlet.tpool
    import eventlet.wsgi

import greenlet

from realtime.async_modes.base import (
    EmbeddedServer,
    Event,
    HandedOverSocket,
    HangupWatch,
    Lock,
    Queue,
    ServerOptions,
    Task,
    WSGIApp,
    peer_closed,
)
from realtime.async_modes.eventlet_server import PROTOCOL_KEY, EventletServer
from realtime.async_modes.green import GreenMode, GreenWorkers

__all__ = ["EventletMode"]


class _GreenLock:
    """A lock for green threads: a flag, and a queue only once someone waits.

    eventlet's own lock is a semaphore with a deque from the start, and every
    session holds several locks: this one costs a few dozen bytes and two
    attribute accesses when uncontended. Green threads switch only when they
    block, so testing and setting the flag is atomic. A release wakes the
    first waiter from the hub; a waiter that finds the lock taken again (by
    a thread that never waited) waits for the next release.
    """

    __slots__ = ("_locked", "_waiters")

    def __init__(self) -> None:
        self._locked = False
        self._waiters: collections.deque[Any] | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._locked:
            self._locked = True
            return True
        if not blocking:
            return False
        return self._wait(timeout)

    def _wait(self, timeout: float) -> bool:
        hub = eventlet.hubs.get_hub()
        current = greenlet.getcurrent()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = collections.deque()
        waiters.append(current)
        timer = (
            hub.schedule_call_global(timeout, current.switch, _TIMED_OUT) if timeout >= 0 else None
        )
        try:
            while self._locked:
                if hub.switch() is _TIMED_OUT:
                    return False
            self._locked = True
            return True
        finally:
            waiters.remove(current)
            if timer is not None:
                timer.cancel()

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        self._locked = False
        if self._waiters:
            eventlet.hubs.get_hub().schedule_call_global(0, self._wake)

    def _wake(self) -> None:
        # On the hub: hand the turn to the first waiter, if the lock is free.
        waiters = self._waiters
        if waiters and not self._locked:
            waiters[0].switch()

    def locked(self) -> bool:
        return self._locked

    def __enter__(self) -> bool:
        if not self._locked:
            self._locked = True
            return True
        return self._wait(-1)

    def __exit__(self, *exc: object) -> None:
        # release(), written out: every locked section ends here, and a
        # call less per section shows in the echo benchmark.
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        self._locked = False
        if self._waiters:
            eventlet.hubs.get_hub().schedule_call_global(0, self._wake)


class _GreenEvent:
    """``threading.Event`` for green threads, with no lock or condition inside.

    A thread woken by :meth:`set` returns True from :meth:`wait` even if the
    flag was cleared again before it ran, as with ``threading.Event``.
    """

    __slots__ = ("_flag", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[Any] | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        if self._flag:
            return
        self._flag = True
        if self._waiters:
            hub = eventlet.hubs.get_hub()
            for waiter in self._waiters:
                hub.schedule_call_global(0, self._wake, waiter)

    def clear(self) -> None:
        self._flag = False

    def _wake(self, waiter: Any) -> None:
        # On the hub; the waiter may have timed out (or been woken) meanwhile.
        waiters = self._waiters
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            waiter.switch(True)

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        if timeout is not None and timeout <= 0:
            return False
        hub = eventlet.hubs.get_hub()
        current = greenlet.getcurrent()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        waiters.append(current)
        timer = (
            hub.schedule_call_global(timeout, current.switch, False)
            if timeout is not None
            else None
        )
        try:
            # True from set(); anything else is the timeout.
            return hub.switch() is True or self._flag
        finally:
            if current in waiters:
                waiters.remove(current)
            if timer is not None:
                timer.cancel()


_TIMED_OUT = object()


class _Queue:
    def __init__(self) -> None:
        self._q: Any = eventlet.queue.LightQueue()

    def put(self, item: Any) -> None:
        self._q.put(item)

    def get(self, timeout: float | None = None) -> Any:
        try:
            return self._q.get(timeout=timeout)
        except eventlet.queue.Empty:
            raise queue.Empty from None


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._timer: Any = None

    def __enter__(self) -> None:
        self._timer = eventlet.Timeout(self._seconds, TimeoutError("deadline passed"))

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class EventletMode(GreenMode):
    """Green threads from eventlet and its WSGI server."""

    name = "eventlet"

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        thread: Task = eventlet.spawn(fn, *args, **kwargs)
        return _GreenTask(thread)

    #: The hub of the calling OS thread: eventlet's function itself, asked on
    #: every submit (a method around it was a call more each time).
    _current_hub = staticmethod(eventlet.hubs.get_hub)

    def _new_workers(self, hub: Any) -> GreenWorkers:
        def soon(fn: Callable[..., Any], *args: Any) -> None:
            hub.schedule_call_global(0, fn, *args)

        return GreenWorkers(
            hub.switch, lambda fn: greenlet.greenlet(fn, hub.greenlet), greenlet.getcurrent, soon
        )

    def sleep(self, seconds: float) -> None:
        eventlet.sleep(seconds)

    def event(self) -> Event:
        return _GreenEvent()

    def lock(self) -> Lock:
        return _GreenLock()

    def queue(self) -> Queue:
        return _Queue()

    def deadline(self, seconds: float) -> _Deadline:
        return _Deadline(seconds)

    def import_blocking(self, name: str) -> ModuleType:
        module: ModuleType = eventlet.import_patched(name)
        return module

    def run_in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return eventlet.tpool.execute(fn, *args)

    def make_server(
        self, app: WSGIApp, host: str, port: int, options: ServerOptions
    ) -> EmbeddedServer:
        return EventletServer(app, host, port, options)

    def wrong_context(self) -> str | None:
        if isinstance(greenlet.getcurrent(), eventlet.greenthread.GreenThread):
            return None
        return (
            "async_mode is 'eventlet' but this request is not running in an eventlet "
            "green thread: the WSGI server is not eventlet's. Set async_mode to match "
            "the server (for gunicorn: gevent workers -> 'gevent', gthread or sync "
            "workers -> 'threading')"
        )

    def can_hand_over(self, environ: dict[str, Any]) -> bool:
        return "eventlet.input" in environ or super().can_hand_over(environ)

    def request_socket(self, environ: dict[str, Any]) -> socket.socket | None:
        if "gunicorn.socket" not in environ and "eventlet.input" in environ:
            sock: socket.socket = environ["eventlet.input"].get_socket()
            return sock
        return super().request_socket(environ)

    def watch_hangup(self, sock: socket.socket, on_hangup: Callable[[], None]) -> HangupWatch:
        return _GreenHangupWatch(self.raw_socket(sock), on_hangup)

    def hand_over_socket(self, environ: dict[str, Any]) -> HandedOverSocket | None:
        handed = super().hand_over_socket(environ)
        if handed is not None:
            return _GreenHandedOver(handed) if handed.raw.gettimeout() == 0 else handed
        if "eventlet.input" not in environ:
            return None
        stream = environ["eventlet.input"]
        sock = stream.get_socket()
        # eventlet.wsgi's buffered reader and writer (24 KiB together) would
        # live as long as the connection, held by the request's input and by
        # the protocol object, whose green thread serves the WebSocket; the
        # WebSocket never uses them. Closed stand-ins take their place (a
        # closed buffer keeps its memory until it is freed), and the socket
        # stays open.
        protocol = environ.pop(PROTOCOL_KEY, None)
        # eventlet's set_idle closes over the protocol object, which would
        # then live as long as the environ (as long as the session).
        environ.pop("eventlet.set_idle", None)
        holders = (stream, protocol)
        for holder, attribute in itertools.product(holders, ("rfile", "wfile")):
            buffered = getattr(holder, attribute, None)
            if buffered is not None:
                with contextlib.suppress(Exception):
                    buffered.close()
                setattr(holder, attribute, _CLOSED)
        return _GreenHandedOver(
            HandedOverSocket(sock, self.raw_socket(sock), _finish_eventlet), protocol
        )

    def raw_socket(self, sock: socket.socket) -> socket.socket:
        return getattr(sock, "fd", sock)


class _GreenHangupWatch:
    """The hub watches the socket for readability, then peeks: a green thread
    is started only for a client that really hung up.

    A waiting polling GET sets one of these up and cancels it when answered
    (twice per connection that polls then upgrades): a green thread blocked
    in ``trampoline`` per watch, killed at cancel, cost a greenlet, its
    switches and a kill each time; a hub listener is an entry in a dict.
    """

    def __init__(self, raw: socket.socket, on_hangup: Callable[[], None]) -> None:
        self._raw = raw
        self._on_hangup = on_hangup
        self._thread: Any = None
        self._hub = eventlet.hubs.get_hub()
        self._listener: Any = self._hub.add(
            self._hub.READ, raw.fileno(), self._readable, self._closed, None
        )

    def _readable(self, fileno: int) -> None:
        self._drop()
        if peer_closed(self._raw):
            self._thread = eventlet.spawn(self._on_hangup)

    def _closed(self, exc: BaseException) -> None:
        self._drop()

    def _drop(self) -> None:
        listener = self._listener
        if listener is not None:
            self._listener = None
            self._hub.remove(listener)

    def cancel(self) -> None:
        self._drop()
        if self._thread is not None:
            self._thread.wait()


class _GreenHandedOver(HandedOverSocket):
    """A handed-over socket whose reads keep it registered with the hub.

    A green socket's ``recv`` registers the socket with the hub each time it
    would block and unregisters it on waking: two ``epoll_ctl`` calls and a
    ``recv`` that fails with ``EAGAIN`` per message. Here the registration
    stays for the life of the WebSocket, and a read that returned less than
    asked waits for the hub's word before reading again (epoll is level
    triggered: bytes that came in meanwhile are reported at once).

    If the socket turns readable while its reader is busy elsewhere (a
    handler running inline, say), the registration is dropped until the next
    read, so that the hub does not spin on it.

    A socket taken from realtime's embedded server (``protocol`` given) can
    also be :meth:`detached <HandedOverSocket.detach>`: the hub then calls
    back when it is readable and no green thread waits on it, so an idle
    WebSocket holds no green thread (no stack) at all; the request's green
    thread ends, and eventlet.wsgi is told to leave the socket open.
    """

    def __init__(self, handed: HandedOverSocket, protocol: Any = None) -> None:
        super().__init__(
            handed.sock,
            handed.raw,
            handed._finish,
            server_closes=handed._server_closes,
        )
        self._hub: Any = eventlet.hubs.get_hub()
        self._fileno = handed.raw.fileno()
        self._listener: Any = None
        self._waiter: Any = None
        self._ready = True
        self._protocol = protocol
        self.detachable = protocol is not None
        self._on_readable_cb: Callable[[], None] | None = None
        self._on_abort: Callable[[], None] | None = None
        self._paused = False
        self._closed = False
        self._registry: weakref.WeakSet[_GreenHandedOver] | None = None

    def recv(self, size: int) -> bytes:
        raw = self.raw
        while True:
            if self._ready:
                try:
                    data = raw.recv(size)
                except (BlockingIOError, InterruptedError):
                    self._ready = False
                else:
                    if len(data) < size:
                        self._ready = False  # drained, as far as we know
                    return data
            self._wait_readable()

    def _wait_readable(self) -> None:
        hub = self._hub
        if self._listener is None:
            self._listener = hub.add(
                hub.READ, self._fileno, self._on_readable, self._on_closed, None
            )
        self._waiter = greenlet.getcurrent()
        try:
            hub.switch()
        finally:
            self._waiter = None
        self._ready = True

    def _on_readable(self, fileno: int) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter.switch()
        else:
            self._unwatch()

    def _on_closed(self, exc: BaseException) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter.throw(exc)

    def _unwatch(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                self._hub.remove(listener)

    # -- detached ------------------------------------------------------------

    def detach(self, on_readable: Callable[[], None], on_abort: Callable[[], None]) -> None:
        self._unwatch()
        self._on_readable_cb = on_readable
        self._on_abort = on_abort
        protocol = self._protocol
        if protocol is not None:
            # eventlet.wsgi must not close the socket: neither the protocol
            # when the request ends nor the server when its green thread does.
            self._registry = protocol.leave_open(self)
            self._protocol = None  # the request's objects go with its green thread
        # Watched from the first resume(): a hub listener keeps the green
        # thread that added it alive, and this one is the request's.
        self._paused = True
        self._ready = True

    def _watch_detached(self) -> None:
        hub = self._hub
        if self._listener is None and not self._closed:
            self._listener = hub.add(
                hub.READ, self._fileno, self._on_detached_readable, self._on_detached_closed, None
            )

    def recv_nowait(self, size: int) -> bytes | None:
        # A read that returned less than asked drained the socket, as far as
        # we know: the next waits for the hub's word rather than failing
        # with EAGAIN (epoll is level triggered, so nothing is missed).
        if not self._ready:
            return None
        try:
            data = self.raw.recv(size)
        except (BlockingIOError, InterruptedError):
            self._ready = False
            return None
        if len(data) < size:
            self._ready = False
        return data

    def _on_detached_readable(self, fileno: int) -> None:
        self._ready = True
        callback = self._on_readable_cb
        if callback is not None:
            callback()

    def _on_detached_closed(self, exc: BaseException) -> None:
        # The hub was told the descriptor closed under it: read the end.
        self._on_detached_readable(self._fileno)

    def pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._unwatch()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._watch_detached()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unwatch()
        if self._registry is not None:
            self._registry.discard(self)
        self._on_readable_cb = self._on_abort = None
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()

    def abort(self) -> None:
        """The server is stopping: end the connection as a lost one."""
        on_abort = self._on_abort
        if on_abort is not None:
            on_abort()
        self.close()

    def finish(self, start_response: Any) -> Any:
        if self._on_readable_cb is not None or self._closed:
            # Detached: the connection outlives the request.
            return self._finish(start_response)
        self._unwatch()
        return super().finish(start_response)


class _GreenTask:
    def __init__(self, thread: Any) -> None:
        self._thread = thread

    def join(self, timeout: float | None = None) -> Any:
        timer = None if timeout is None else eventlet.Timeout(timeout, _JoinTimeout())
        try:
            return self._thread.wait()
        except _JoinTimeout:
            return None
        finally:
            if timer is not None:
                timer.cancel()


class _JoinTimeout(Exception):
    pass


def _finish_eventlet(start_response: Any) -> list[bytes]:
    # eventlet.wsgi writes no response when this flag is set, as its own
    # websocket module does.
    eventlet.wsgi.WSGI_LOCAL.already_handled = True
    return []


#: A closed file, standing in for the buffers of a connection handed over.
_CLOSED = io.BytesIO()
_CLOSED.close()
