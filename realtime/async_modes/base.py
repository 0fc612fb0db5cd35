"""The one interface every async mode implements.

The engine and everything above it wait, spawn and lock only through an
:class:`AsyncMode`; nothing outside this package imports eventlet, gevent or
threading primitives. Each mode also knows how to serve a WSGI app on its own
server and how to take a client's socket over from a WSGI server for a
WebSocket.
"""

from __future__ import annotations

import abc
import collections
import contextlib
import errno
import gc
import importlib
import logging
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, Protocol

__all__ = [
    "GC_THRESHOLDS",
    "AsyncMode",
    "EmbeddedServer",
    "Event",
    "HandedOverSocket",
    "HangupWatch",
    "Lock",
    "Queue",
    "ReentrantLock",
    "SerialExecutor",
    "ServerOptions",
    "Task",
    "no_delay",
    "peer_gone",
    "peer_left",
    "short_lock",
]

logger = logging.getLogger("realtime.server")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]
StartResponse = Callable[..., Any]


class Event(Protocol):
    """A resettable flag that tasks can wait on."""

    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class Lock(Protocol):
    """A mutual-exclusion lock, usable as a context manager."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any, /) -> Any: ...


class Queue(Protocol):
    """A FIFO queue of any items."""

    def put(self, item: Any) -> None: ...
    def get(self, timeout: float | None = None) -> Any: ...


class Task(Protocol):
    """A running task (thread or greenlet)."""

    def join(self, timeout: float | None = None) -> Any: ...


class ServerOptions:
    """Settings of an embedded server; see :func:`realtime.serve`.

    Attributes:
        backlog: listen backlog (the kernel caps it at ``somaxconn``).
        http_timeout: seconds a client gets to send a complete request head,
            and the longest pause allowed while it sends a request body; a
            client that trickles bytes is disconnected after it.
        log_output: log one line per HTTP request (logger ``realtime.access``).
        raise_fd_limit: raise the process's soft limit on open files to the
            hard limit, so that many connections fit.
        tune_gc: set the cyclic garbage collector's thresholds to
            :data:`GC_THRESHOLDS`, unless the program changed them already.
    """

    def __init__(
        self,
        *,
        backlog: int = 4096,
        http_timeout: float = 60.0,
        log_output: bool = False,
        raise_fd_limit: bool = True,
        tune_gc: bool = True,
    ) -> None:
        self.backlog = backlog
        self.http_timeout = http_timeout
        self.log_output = log_output
        self.raise_fd_limit = raise_fd_limit
        self.tune_gc = tune_gc


#: The collector's thresholds for a server process (``gc.set_threshold``).
#: Python's (700, 10, 10) collect the youngest objects every 700 net
#: allocations and, once thousands of connections are alive, every object
#: in a full collection of some 190 ms several times a minute under load:
#: connecting 10,000 WebSocket clients spent 31 % of the server's time in
#: the collector. With these, collections of the youngest objects take a
#: few milliseconds and full ones are rare; cyclic garbage lives a little
#: longer.
GC_THRESHOLDS = (50_000, 50, 100)
_PYTHON_GC_THRESHOLDS = (700, 10, 10)


class EmbeddedServer(abc.ABC):
    """A WSGI server bound to a socket, ready to serve."""

    @property
    @abc.abstractmethod
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""

    @abc.abstractmethod
    def serve_forever(self) -> None:
        """Serve until :meth:`stop` is called."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop accepting and make :meth:`serve_forever` return."""


class HandedOverSocket:
    """A client socket a WSGI server handed over for a WebSocket.

    Attributes:
        sock: the socket to read from and write to with blocking calls
            (green in eventlet and gevent modes).
        raw: the underlying OS-level socket, for writes that must not block
            (``send(data, MSG_DONTWAIT)``).
    """

    def __init__(
        self,
        sock: socket.socket,
        raw: socket.socket,
        finish: Callable[[StartResponse], Iterable[bytes]],
        *,
        server_closes: bool = False,
    ) -> None:
        self.sock = sock
        self.raw = raw
        self._finish = finish
        self._server_closes = server_closes

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes, blocking the calling task until some arrive.

        Returns ``b""`` at the end of the stream. Only one task reads.

        Raises:
            OSError: the connection failed.
        """
        return self.sock.recv(size)

    #: Whether :meth:`detach` is available: the socket can be served without
    #: a task of its own, by reading it whenever its mode's watcher (a green
    #: hub, or the threading mode's watcher thread) reports it readable.
    detachable: bool = False

    def detach(self, on_readable: Callable[[], None], on_abort: Callable[[], None]) -> None:
        """Serve the socket from the mode's watcher, freeing the request's task.

        :meth:`finish` then leaves the socket open: the WSGI request ends
        while the connection lives on. From the first :meth:`resume` (after
        the caller's first read) until :meth:`close`, ``on_readable`` is
        called on the watcher (a green hub, or the threading mode's watcher
        thread; it must not block) when the socket turns readable: each time
        (green hubs), or once per :meth:`resume` (threads). ``on_abort`` is
        called if the server stops first. Only where :attr:`detachable` is
        true.
        """
        raise NotImplementedError

    def pause(self) -> None:
        """Stop reporting readability until :meth:`resume` (a read is under way)."""

    def resume(self) -> None:
        """Report readability again (after :meth:`pause`, or a report)."""

    def recv_nowait(self, size: int) -> bytes | None:
        """Up to ``size`` bytes without blocking; None when none are there yet.

        Returns ``b""`` at the end of the stream; raises :class:`OSError`
        when the connection failed (a reset).
        """
        try:
            return self.raw.recv(size, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return None

    def close(self) -> None:
        """End a detached connection: stop watching, shut down, close."""

    def finish(self, start_response: StartResponse) -> Iterable[bytes]:
        """End the connection and return what the WSGI app must return."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        if not self._server_closes:
            with contextlib.suppress(OSError):
                self.sock.close()
        return self._finish(start_response)


class HangupWatch(Protocol):
    """A running :meth:`AsyncMode.watch_hangup`."""

    def cancel(self) -> None: ...


def no_delay(sock: socket.socket) -> None:
    """Turn Nagle's algorithm off on a client socket.

    Realtime traffic is small writes back to back (a reply, then an event);
    with Nagle the second waits for the client's delayed ACK, some 40 ms.
    """
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def peer_closed(raw: socket.socket) -> bool:
    """True when the OS-level socket ``raw`` reads end-of-stream (or failed).

    Only peeks: pipelined bytes of a next request count as "not closed" and
    stay in the socket for the server to read.
    """
    try:
        return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


#: What a socket call fails with once the client is gone: a write after its
#: reset or close, a connection it aborted, a socket it left unconnected.
_PEER_GONE_ERRNOS = frozenset(
    {errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED, errno.ESHUTDOWN, errno.ENOTCONN}
)


def peer_gone(exc: BaseException) -> bool:
    """Whether ``exc`` only says that the client went away mid-exchange.

    A broken pipe, a reset or aborted connection, a request body that ended
    early, a TLS connection cut without its closing alert: the client
    hung up or lost its network, which is neither our bug nor the
    application's. Such errors are logged at DEBUG, never with a traceback;
    anything else (a timeout included) is not one of them.
    """
    if isinstance(exc, ConnectionRefusedError):
        return False  # not a client leaving: an outgoing connection refused
    if isinstance(exc, ConnectionError):
        return True
    # ssl as already imported: no TLS socket exists without it, and importing
    # it here would make gevent's later monkey patching warn.
    ssl = sys.modules.get("ssl")
    if ssl is not None and isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return True
    return isinstance(exc, OSError) and exc.errno in _PEER_GONE_ERRNOS


def peer_left(sock: socket.socket) -> bool:
    """:func:`peer_closed`, asked by the task that owns ``sock``.

    A socket with a timeout would make the peek wait for it; this one sets
    the timeout aside for the peek, which only the socket's owner may do.
    """
    try:
        timeout = sock.gettimeout()
        if timeout != 0.0:
            sock.settimeout(0.0)
    except OSError:
        return True
    try:
        return peer_closed(sock)
    finally:
        if timeout != 0.0:
            with contextlib.suppress(OSError):
                sock.settimeout(timeout)


#: Calls a :class:`SerialExecutor` holds before :meth:`SerialExecutor.backlogged`
#: says so.
SERIAL_LIMIT = 256


class SerialExecutor:
    """Runs submitted calls one at a time, in submission order.

    Calls run on the mode's worker pool, and only while there is work: an idle
    executor holds no task. One per client keeps its handlers in order while
    different clients run in parallel. Once ``limit`` calls wait,
    :meth:`backlogged` says so (a reader then stops reading the client until
    half of them ran).
    """

    __slots__ = ("_calls", "_limit", "_lock", "_mode", "_resumes", "_running")

    def __init__(self, mode: AsyncMode, limit: int = SERIAL_LIMIT) -> None:
        self._mode = mode
        self._lock = mode.lock()
        # Made when a call comes, dropped when none is left (see OrderedRunner).
        self._calls: collections.deque[tuple[Callable[..., Any], tuple[Any, ...]]] | None = None
        self._running = False
        self._limit = limit
        self._resumes: list[Callable[[], None]] | None = None

    def backlogged(self, resume: Callable[[], None]) -> bool:
        """Whether ``limit`` calls or more wait; if so, ``resume()`` is called
        (from a worker) once no more than half of the limit wait."""
        calls = self._calls
        if calls is None or len(calls) < self._limit:
            return False
        with self._lock:
            calls = self._calls
            if calls is None or len(calls) < self._limit:
                return False
            if self._resumes is None:
                self._resumes = []
            self._resumes.append(resume)
            return True

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` to run after everything submitted before it."""
        with self._lock:
            calls = self._calls
            if calls is None:
                calls = self._calls = collections.deque()
            calls.append((fn, args))
            if self._running:
                return
            self._running = True
        self._mode.submit(self._drain)

    def _drain(self) -> None:
        low = self._limit // 2
        while True:
            resumes = None
            with self._lock:
                calls = self._calls
                if not calls:
                    self._calls = None
                    self._running = False
                    resumes, self._resumes = self._resumes, None
                    fn = None
                else:
                    fn, args = calls.popleft()
                    if self._resumes is not None and len(calls) <= low:
                        resumes, self._resumes = self._resumes, None
            for resume in resumes or ():
                try:
                    resume()
                except Exception:
                    logger.exception("error resuming a paused reader")
            if fn is None:
                return
            try:
                fn(*args)
            except Exception:
                logger.exception("unhandled error in a handler")


class AsyncMode(abc.ABC):
    """Concurrency primitives and servers of one async mode."""

    #: "eventlet", "gevent" or "threading".
    name: str
    #: Tasks run one at a time and switch only when they block (green
    #: threads): a task started with :meth:`submit` runs after the running
    #: ones have yielded, which lets writes made in one turn go out together.
    cooperative: bool = False

    # -- tasks and time ------------------------------------------------------

    @abc.abstractmethod
    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        """Start ``fn(*args, **kwargs)`` as a new task and return it."""

    @abc.abstractmethod
    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a reusable worker; fire and forget.

        Unlike :meth:`spawn`, no new thread is created per call once workers
        are warm: this is how event handlers run.
        """

    def submit_now(self, fn: Callable[..., Any], *args: Any) -> None:
        """:meth:`submit`, for a caller on the watcher of detached sockets (see
        :meth:`HandedOverSocket.detach`): a green mode may start the call at
        once (the caller must be the hub, which nothing else is), threads run
        it on the watcher's few reader threads. The call reads a socket and
        must not wait long."""
        self.submit(fn, *args)

    def run_holding(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)``; a mode may then run what it submitted in this task.

        See :meth:`GreenWorkers.run_holding`; without it (threads) this is
        just ``fn(*args)``.
        """
        return fn(*args)

    def serial(self) -> SerialExecutor:
        """A new :class:`SerialExecutor` on this mode's workers."""
        return SerialExecutor(self)

    @abc.abstractmethod
    def sleep(self, seconds: float) -> None:
        """Block the calling task for ``seconds``, letting others run."""

    #: The clock every deadline in the engine is measured against
    #: (``time.monotonic`` itself, called without a Python frame around it:
    #: it is read for every event).
    monotonic: Callable[[], float] = staticmethod(time.monotonic)

    @abc.abstractmethod
    def event(self) -> Event:
        """A new, unset :class:`Event`."""

    @abc.abstractmethod
    def lock(self) -> Lock:
        """A new :class:`Lock`."""

    def current_task(self) -> object:
        """What tells the running task from every other one (threads: its id)."""
        return threading.get_ident()

    def rlock(self) -> Lock:
        """A new :class:`Lock` that the task holding it may take again.

        It is free once released as often as it was taken.
        """
        return ReentrantLock(self.lock(), self.current_task)

    @abc.abstractmethod
    def queue(self) -> Queue:
        """A new unbounded :class:`Queue`."""

    def import_blocking(self, name: str) -> ModuleType:
        """A library doing blocking network I/O (redis, kombu), made cooperative.

        In threading mode it is the library as it is; eventlet loads a copy
        that uses green sockets; gevent needs the process monkey patched.

        Raises:
            ConfigurationError: the library cannot be made cooperative here.
        """
        return importlib.import_module(name)

    def run_in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, a blocking call, on a native thread; waits for it
        without holding up the other tasks, and returns what it returned.

        For libraries whose blocking I/O cannot be made cooperative (see
        :meth:`import_blocking`). Threads call it on the calling thread.
        """
        return fn(*args)

    def deadline(self, seconds: float) -> contextlib.AbstractContextManager[None]:
        """Raise :class:`TimeoutError` in the block if it runs past ``seconds``.

        Modes that cannot interrupt a blocked call (threads) return a no-op
        and rely on socket timeouts instead.
        """
        return contextlib.nullcontext()

    # -- serving -------------------------------------------------------------

    @abc.abstractmethod
    def make_server(
        self, app: WSGIApp, host: str, port: int, options: ServerOptions
    ) -> EmbeddedServer:
        """Bind this mode's WSGI server to (host, port) for ``app``."""

    def prepare_process(self, options: ServerOptions) -> None:
        """Lift per-process limits that would cap the number of connections,
        and tune the garbage collector (see :data:`GC_THRESHOLDS`)."""
        if (
            options.tune_gc
            and gc.get_threshold() == _PYTHON_GC_THRESHOLDS
            # Not current_thread() is main_thread(): where eventlet patched
            # threading, they differ even on the main thread.
            and threading.get_native_id() == threading.main_thread().native_id
        ):
            # Only the main thread changes this process-wide setting: a server
            # started on another thread (werkzeug's reloader serves from a
            # daemon thread) leaves it to the program.
            gc.set_threshold(*GC_THRESHOLDS)
            logger.debug("garbage collector thresholds set to %s", GC_THRESHOLDS)
        if not options.raise_fd_limit:
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if soft != resource.RLIM_INFINITY and soft < hard:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                logger.debug("raised the open-files limit from %d to %d", soft, hard)

    def wrong_context(self) -> str | None:
        """Why the calling task cannot run this mode's primitives, if it cannot.

        A server whose async mode does not match the WSGI server running it
        (eventlet primitives under a threaded server, say) hangs in ways that
        are hard to trace; the engine checks this on its first request.
        """
        return None

    # -- WebSocket takeover --------------------------------------------------

    # -- watching a waiting request ------------------------------------------

    def request_socket(self, environ: dict[str, Any]) -> socket.socket | None:
        """The client socket of a request, left with the server (or None)."""
        sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
        return sock if isinstance(sock, socket.socket) or hasattr(sock, "fileno") else None

    def client_left(self, environ: dict[str, Any]) -> bool:
        """Whether the client of a request has closed its connection.

        Asked by the request's task; only peeks at the socket (see
        :func:`peer_left`). False when the server gives no access to it.
        """
        sock = self.request_socket(environ)
        return sock is not None and peer_left(self.raw_socket(sock))

    @abc.abstractmethod
    def watch_hangup(self, sock: socket.socket, on_hangup: Callable[[], None]) -> HangupWatch:
        """Call ``on_hangup()`` if the client closes ``sock`` while it is watched.

        Used while a long poll waits: nothing is read from the socket, only
        its end is noticed. The returned handle's ``cancel()`` stops the
        watch, and returns only once the socket is the server's alone again.
        """

    def can_hand_over(self, environ: dict[str, Any]) -> bool:
        """True when :meth:`hand_over_socket` would succeed for this request."""
        return "gunicorn.socket" in environ or "werkzeug.socket" in environ

    def hand_over_socket(self, environ: dict[str, Any]) -> HandedOverSocket | None:
        """Take the client's socket away from the WSGI server, if it allows it.

        Returns None when the server running the app gives no access to its
        sockets; WebSocket is then unavailable.
        """
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            return HandedOverSocket(sock, self.raw_socket(sock), finish_gunicorn)
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            return HandedOverSocket(
                sock, self.raw_socket(sock), finish_werkzeug, server_closes=True
            )
        return None

    def raw_socket(self, sock: socket.socket) -> socket.socket:
        """The OS-level socket under ``sock`` (the same object for threads)."""
        return sock


#: Exceptions that carry a finished WebSocket out of the WSGI app to the server
#: (see :meth:`AsyncMode.hand_over_socket`); nothing between may catch them.
HAND_OVER_SIGNALS = (StopIteration,)


def finish_gunicorn(start_response: StartResponse) -> Iterable[bytes]:
    """For gunicorn's workers: each closes the connection, writing nothing
    more, when the app raises StopIteration."""
    raise StopIteration


def finish_werkzeug(start_response: StartResponse) -> Iterable[bytes]:
    """For werkzeug's server, which writes a status line when the app returns."""
    # The socket is shut down, or (a detached socket on realtime's own
    # server) the handler's writer was swapped for one that writes nowhere,
    # so the status line never reaches the client. Returning normally keeps
    # middleware (the debugger) from seeing an exception.
    start_response("101 Switching Protocols", [])
    return []


def finish_nothing(start_response: StartResponse) -> Iterable[bytes]:
    """For servers that write nothing after the app returns."""
    return []


@contextlib.contextmanager
def suppress_all() -> Iterator[None]:
    """Swallow any exception (for best-effort cleanup)."""
    try:
        yield
    except Exception:
        logger.debug("ignored error during cleanup", exc_info=True)


def short_lock() -> Lock:
    """A lock for sections that never yield (dict updates), safe in every mode.

    Green threads only switch when they block, so a section that never
    blocks is never interrupted by another green thread of its hub, and an
    OS lock around it never stalls the hub; with threads it is the lock it
    has to be. For structures made before the async mode is known (a
    manager built by the application, say).
    """
    return threading.Lock()


class ReentrantLock:
    """A mode's lock that the task holding it may take again.

    Args:
        lock: the mode's plain lock.
        current_task: tells the running task (thread or green thread).
    """

    __slots__ = ("_current_task", "_depth", "_lock", "_owner")

    def __init__(self, lock: Lock, current_task: Callable[[], object]) -> None:
        self._lock = lock
        self._current_task = current_task
        self._owner: object = None
        self._depth = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = self._current_task()
        # ==, not is: thread ids are ints, made anew by each call.
        if self._owner != me:
            if not self._lock.acquire(blocking, timeout):
                return False
            self._owner = me
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    def __enter__(self) -> ReentrantLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any, /) -> None:
        self.release()
