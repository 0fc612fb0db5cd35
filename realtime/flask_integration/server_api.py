"""The extension's share of Node's socket.io 4 server tools.

Middlewares and listeners, with Flask-SocketIO's calling convention: no sid
argument (it is ``request.sid``), each call inside the app and request
contexts of the client it concerns. Each is registered on every server the
extension is installed on, now and later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from realtime.exceptions import ConfigurationError
from realtime.flask_integration.context import SocketContext
from realtime.flask_integration.dispatch import is_coroutine_function
from realtime.socketio.managers.emit_args import Target

if TYPE_CHECKING:
    from flask import Flask

    from realtime.flask_integration.dispatch import Dispatcher
    from realtime.socketio.deployment import SocketView
    from realtime.socketio.server import Server

__all__ = ["ExtensionSocket4API"]

Fn = Callable[..., Any]
F = TypeVar("F", bound=Fn)
#: Registers a wrapper on one server.
Install = Callable[["Server"], object]


class ExtensionSocket4API:
    """Middlewares and listeners, as the Flask extension offers them.

    Each method registers for ``namespace`` (default ``"/"``; ``"*"`` for
    every namespace), and is usable as ``@socketio.use``,
    ``@socketio.use(namespace="/chat")`` or ``socketio.use(fn)``. The
    functions may not be ``async def``.
    """

    _dispatcher: Dispatcher
    _server_installs: list[Install]

    if TYPE_CHECKING:

        def installations(self) -> list[tuple[Flask, Server]]: ...

        @property
        def server(self) -> Server: ...

    def _install(self, install: Install) -> None:
        """Run ``install`` on every server, and on those of apps installed later."""
        self._server_installs.append(install)
        for _, server in self.installations():
            install(server)

    def install_socket4(self, server: Server) -> None:
        """Register the middlewares and listeners on a new app's server."""
        for install in self._server_installs:
            install(server)

    @overload
    def use(self, fn: F, namespace: str | None = None) -> F: ...
    @overload
    def use(self, fn: None = None, namespace: str | None = None) -> Callable[[F], F]: ...

    def use(self, fn: F | None = None, namespace: str | None = None) -> F | Callable[[F], F]:
        """Register a connection middleware (Node's ``io.use``).

        ``fn(auth)`` (or ``fn()``) runs when a client joins the namespace,
        before the connect handler, in the order of registration, with
        ``request.sid`` set. Raising
        :class:`~realtime.flask_integration.ConnectionRefusedError` with a
        message and data refuses the client (its ``connect_error`` gets
        both); returning False refuses it with Socket.IO's default message.
        What it puts in ``session`` (managed sessions) the connection's
        handlers see.
        """
        key = _key(namespace)

        def register(f: F) -> F:
            _check(f, "connection middleware")
            wrapper = self._dispatcher.event_handler("connect", f, key)
            self._install(lambda server: server.use(wrapper, key))
            return f

        return register(fn) if fn is not None else register

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

        ``fn(event, args)`` sees each event a client sends before its
        handler (``args``: the list of its arguments), with ``request.sid``
        set. It may change ``args`` in place or return ``(event, args)`` to
        replace both; raising :class:`~realtime.EventRefused` refuses the
        event (no handler runs; the client's acknowledgement, if it asked
        for one, carries the exception's arguments).
        """
        key = _key(namespace)

        def register(f: F) -> F:
            _check(f, "event middleware")
            wrapper = self._with_event(f, key, lambda event, rest: (event, rest[0]))
            self._install(lambda server: server.event_middleware(wrapper, key))
            return f

        return register(fn) if fn is not None else register

    @overload
    def on_any(self, fn: F, namespace: str | None = None) -> F: ...
    @overload
    def on_any(self, fn: None = None, namespace: str | None = None) -> Callable[[F], F]: ...

    def on_any(self, fn: F | None = None, namespace: str | None = None) -> F | Callable[[F], F]:
        """Register a listener of every incoming event (Node's ``socket.onAny``).

        ``fn(event, *args)`` runs for each event a client sends, handled or
        not, before the event middlewares and the handler, with
        ``request.sid`` set.
        """
        key = _key(namespace)

        def register(f: F) -> F:
            _check(f, "on_any listener")
            wrapper = self._with_event(f, key, lambda event, rest: (event, *rest))
            self._install(lambda server: server.on_any(wrapper, key))
            return f

        return register(fn) if fn is not None else register

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

        ``fn(event, *args)`` runs once for each client of this process an
        event is handed to, in that client's contexts (``request.sid`` is
        the recipient), on the emitting task.
        """
        key = _key(namespace)

        def register(f: F) -> F:
            _check(f, "on_any_outgoing listener")
            wrapper = self._with_event(f, key, lambda event, rest: (event, *rest))
            self._install(lambda server: server.on_any_outgoing(wrapper, key))
            return f

        return register(fn) if fn is not None else register

    # -- the deployment's sockets -------------------------------------------------

    def fetch_sockets(
        self,
        to: Target = None,
        namespace: str | None = None,
        *,
        exclude: Target = None,
        timeout: float | None = None,
    ) -> list[SocketView]:
        """The sockets of the whole deployment in ``to`` (None: the whole
        namespace), whichever process holds them: see
        :meth:`realtime.Server.fetch_sockets`."""
        return self.server.fetch_sockets(to, namespace, exclude=exclude, timeout=timeout)

    def sockets_join(
        self,
        rooms: str | list[str],
        to: Target = None,
        namespace: str | None = None,
        *,
        exclude: Target = None,
        timeout: float | None = None,
    ) -> None:
        """Put the matching sockets of every process in ``rooms``: see
        :meth:`realtime.Server.sockets_join`."""
        self.server.sockets_join(rooms, to, namespace, exclude=exclude, timeout=timeout)

    def sockets_leave(
        self,
        rooms: str | list[str],
        to: Target = None,
        namespace: str | None = None,
        *,
        exclude: Target = None,
        timeout: float | None = None,
    ) -> None:
        """Take the matching sockets of every process out of ``rooms``: see
        :meth:`realtime.Server.sockets_leave`."""
        self.server.sockets_leave(rooms, to, namespace, exclude=exclude, timeout=timeout)

    def disconnect_sockets(
        self,
        to: Target = None,
        namespace: str | None = None,
        close: bool = False,
        *,
        exclude: Target = None,
        timeout: float | None = None,
    ) -> None:
        """Disconnect the matching sockets of every process: see
        :meth:`realtime.Server.disconnect_sockets`."""
        self.server.disconnect_sockets(to, namespace, close, exclude=exclude, timeout=timeout)

    def server_side_emit(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send ``event`` to the other server processes' :meth:`on_server`
        handlers: see :meth:`realtime.Server.server_side_emit`."""
        return self.server.server_side_emit(event, *args, timeout=timeout)

    def on_server(self, event: str) -> Callable[[F], F]:
        """Handle ``event`` from another process's :meth:`server_side_emit`,
        in the app context of the server that gets it; what it returns is
        the answer."""

        def register(f: F) -> F:
            _check(f, "server event handler")

            def install(server: Server) -> None:
                def run(*args: Any) -> Any:
                    for app, installed in self.installations():
                        if installed is server:
                            with app.app_context():
                                return f(*args)
                    return f(*args)

                server.on_server(event)(run)

            self._install(install)
            return f

        return register

    def _with_event(
        self,
        fn: Fn,
        key: str,
        arguments: Callable[[str, list[Any]], tuple[Any, ...]],
    ) -> Fn:
        """The server-side function for ``fn``: it gets ``(namespace?, sid,
        event, *rest)`` and calls ``fn(*arguments(event, rest))`` in the
        client's contexts."""
        dynamic = key == "*"
        dispatcher = self._dispatcher

        def run(*given: Any) -> Any:
            rest = list(given)
            namespace = rest.pop(0) if dynamic else key
            sid = rest.pop(0)
            event = rest.pop(0)
            call_args = arguments(event, rest)
            return dispatcher.run_in_context(
                fn, event, SocketContext(sid, namespace), tuple(rest), call_args
            )

        run.__name__ = getattr(fn, "__name__", "middleware")
        return run


def _key(namespace: str | None) -> str:
    return namespace or "/"


def _check(fn: Any, what: str) -> None:
    if not callable(fn):
        raise ConfigurationError(f"the {what} is not callable")
    if is_coroutine_function(fn):
        raise ConfigurationError(f"the {what} {fn.__name__} may not be async def")
