"""The methods :class:`realtime.Server` takes from Node's socket.io 4 server.

Middlewares and listeners (:mod:`realtime.socketio.middlewares`), and the
deployment's sockets and server events (:mod:`realtime.socketio.deployment`). Kept apart
from :mod:`realtime.socketio.server` so that the facade stays readable; the
server is the one class that uses this mixin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from realtime.socketio.managers.emit_args import Target, as_exclude, as_rooms

if TYPE_CHECKING:
    from realtime.socketio.deployment import Deployment, SocketView
    from realtime.socketio.dispatch import Dispatcher

__all__ = ["Socket4API"]

Fn = Callable[..., Any]
F = TypeVar("F", bound=Fn)


class Socket4API:
    """Middlewares and listeners, as :class:`realtime.Server` offers them.

    Each method registers for ``namespace`` (default ``"/"``; ``"*"`` for
    every namespace, and the function then gets the namespace first), and
    is usable as ``@sio.use``, ``@sio.use(namespace="/chat")`` or
    ``sio.use(fn)``.
    """

    _dispatcher: Dispatcher
    _deployment: Deployment

    @overload
    def use(self, fn: F, namespace: str | None = None) -> F: ...
    @overload
    def use(self, fn: None = None, namespace: str | None = None) -> Callable[[F], F]: ...

    def use(self, fn: F | None = None, namespace: str | None = None) -> F | Callable[[F], F]:
        """Register a connection middleware (Node's ``io.use``).

        ``fn(sid, environ, auth)`` (or fewer arguments) runs when a client
        joins the namespace, after the middlewares registered before it and
        before the connect handler. Raising
        :class:`~realtime.exceptions.ConnectionRefused` (or the builtin
        ``ConnectionRefusedError``) with a message and data refuses the
        client, which gets them in its ``connect_error``; returning False
        refuses it with Socket.IO's default message. It may keep data with
        :meth:`save_session`. A client that resumes with connection state
        recovery skips the middlewares (unless ``skip_middlewares`` is off).
        """
        middlewares = self._dispatcher.middlewares
        return _register(lambda f: middlewares.add(middlewares.connection, namespace or "/", f), fn)

    @overload
    def event_middleware(self, fn: F, namespace: str | None = None) -> F: ...
    @overload
    def event_middleware(
        self, fn: None = None, namespace: str | None = None
    ) -> Callable[[F], F]: ...

    def event_middleware(
        self, fn: F | None = None, namespace: str | None = None
    ) -> F | Callable[[F], F]:
        """Register an event middleware (Node's ``socket.use``).

        ``fn(sid, event, args)`` sees each event a client sends, before its
        handler, after the middlewares registered before it; ``args`` is
        the list of the event's arguments. It may change them in place, or
        return ``(event, args)`` to replace both; returning None keeps them.
        Raising :class:`~realtime.exceptions.EventRefused` refuses the
        event: no handler runs, and if the client asked for an
        acknowledgement, it carries the exception's arguments.
        """
        middlewares = self._dispatcher.middlewares
        return _register(lambda f: middlewares.add(middlewares.events, namespace or "/", f), fn)

    @overload
    def on_any(self, fn: F, namespace: str | None = None) -> F: ...
    @overload
    def on_any(self, fn: None = None, namespace: str | None = None) -> Callable[[F], F]: ...

    def on_any(self, fn: F | None = None, namespace: str | None = None) -> F | Callable[[F], F]:
        """Register a listener of every incoming event (Node's ``socket.onAny``).

        ``fn(sid, event, *args)`` runs for each event a client sends, handled
        or not, before the event middlewares and the handler; what it
        returns is ignored, and it cannot refuse the event.
        """
        middlewares = self._dispatcher.middlewares
        return _register(lambda f: middlewares.add(middlewares.incoming, namespace or "/", f), fn)

    @overload
    def on_any_outgoing(self, fn: F, namespace: str | None = None) -> F: ...
    @overload
    def on_any_outgoing(
        self, fn: None = None, namespace: str | None = None
    ) -> Callable[[F], F]: ...

    def on_any_outgoing(
        self, fn: F | None = None, namespace: str | None = None
    ) -> F | Callable[[F], F]:
        """Register a listener of every event sent (Node's ``socket.onAnyOutgoing``).

        ``fn(sid, event, *args)`` runs once for each client of this process
        an event is handed to (a broadcast calls it once per recipient),
        whichever process emitted it, on the emitting task. With connection
        state recovery on, ``args`` end with the event's offset.
        """
        middlewares = self._dispatcher.middlewares
        return _register(lambda f: middlewares.add(middlewares.outgoing, namespace or "/", f), fn)

    # -- the deployment's sockets -------------------------------------------------

    def fetch_sockets(
        self,
        to: Target = None,
        namespace: str | None = None,
        *,
        exclude: Target = None,
        timeout: float | None = None,
    ) -> list[SocketView]:
        """The sockets of the whole deployment in ``to`` (rooms or sids;
        None: the whole namespace) but not in ``exclude`` (Node's
        ``fetchSockets``).

        Each :class:`~realtime.socketio.deployment.SocketView` has ``sid``,
        ``rooms``, ``data`` (its session; a copy for a socket another
        process holds), ``handshake``, and ``emit``, ``join``, ``leave`` and
        ``disconnect``, which act wherever the socket is.

        Args:
            timeout: seconds the other processes have to answer (default 5).

        Raises:
            ProcessesTimeout: some did not answer in time (its ``partial``
                holds the sockets found).
            BrokerUnavailable: the broker cannot be reached.
        """
        return self._deployment.fetch_sockets(
            as_rooms(to), as_exclude(exclude), namespace or "/", timeout
        )

    def sockets_join(
        self,
        rooms: str | list[str],
        to: Target = None,
        namespace: str | None = None,
        *,
        exclude: Target = None,
        timeout: float | None = None,
    ) -> None:
        """Put the sockets in ``to`` (None: all) but not in ``exclude`` in
        ``rooms``, on every process (Node's ``socketsJoin``); returns once
        every process did.

        Raises:
            ProcessesTimeout: some did not confirm within ``timeout`` (default 5) seconds.
            BrokerUnavailable: the broker cannot be reached.
        """
        self._deployment.change_rooms(
            _names(rooms), [], as_rooms(to), as_exclude(exclude), namespace or "/", timeout
        )

    def sockets_leave(
        self,
        rooms: str | list[str],
        to: Target = None,
        namespace: str | None = None,
        *,
        exclude: Target = None,
        timeout: float | None = None,
    ) -> None:
        """Take the sockets in ``to`` (None: all) out of ``rooms``, on every
        process (Node's ``socketsLeave``); see :meth:`sockets_join`."""
        self._deployment.change_rooms(
            [], _names(rooms), as_rooms(to), as_exclude(exclude), namespace or "/", timeout
        )

    def disconnect_sockets(
        self,
        to: Target = None,
        namespace: str | None = None,
        close: bool = False,
        *,
        exclude: Target = None,
        timeout: float | None = None,
    ) -> None:
        """Disconnect the sockets in ``to`` (None: all) from the namespace,
        on every process (Node's ``disconnectSockets``); ``close`` closes
        their whole connections instead. See :meth:`sockets_join`."""
        self._deployment.disconnect_sockets(
            as_rooms(to), as_exclude(exclude), namespace or "/", close, timeout
        )

    # -- messages between server processes -----------------------------------------

    def on_server(self, event: str) -> Callable[[F], F]:
        """Handle ``event`` when another process sends it with
        :meth:`server_side_emit`: ``@sio.on_server("reload") def reload(*args)``;
        what the handler returns is its answer."""

        def register(fn: F) -> F:
            self._deployment.on_server(event, fn)
            return fn

        return register

    def server_side_emit(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send ``event`` with ``args`` to every other server process of the
        deployment (not this one), whose :meth:`on_server` handler runs
        (Node's ``serverSideEmit``).

        Without ``timeout``, returns None at once. With it, waits for every
        process and returns the answers of those that have a handler, as a
        list. The arguments cross the broker as msgpack.

        Raises:
            ProcessesTimeout: with ``timeout``, some did not answer in time
                (it names them, and its ``partial`` holds the answers).
            BrokerUnavailable: the broker cannot be reached.
        """
        return self._deployment.server_side_emit(event, list(args), timeout)


def _names(rooms: str | list[str]) -> list[str]:
    return [rooms] if isinstance(rooms, str) else list(rooms)


def _register(add: Callable[[Fn], None], fn: F | None) -> F | Callable[[F], F]:
    def register(f: F) -> F:
        add(f)
        return f

    return register(fn) if fn is not None else register
