"""From the server's calling convention to Flask-SocketIO's, one handler call at a time.

The Socket.IO server calls handlers with the client's sid first (and, for
handlers of many namespaces, the namespace before it; for the catch-all
event, the event name before that). Flask-SocketIO's handlers take only the
event's arguments and find the rest on ``request``. A :class:`Dispatcher`
turns one into the other: it finds the connection's app and environ, pushes
the contexts (:mod:`realtime.flask_integration.context`), runs the handler,
and hands an exception to the extension's error handlers.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app

from realtime.async_modes import patched_mode
from realtime.exceptions import ConfigurationError, ConnectionRefused, EventRefused
from realtime.flask_integration.context import (
    EXTENSION_KEY,
    RUNNING,
    SocketContext,
    handler_context,
    save_session,
)
from realtime.socketio.handlers import NamespaceKey, fit_arguments

if TYPE_CHECKING:
    from flask import Flask

    from realtime.socketio.server import Server

__all__ = ["Dispatcher", "Settings", "check_coroutines", "is_coroutine_function"]

logger = logging.getLogger("realtime.flask")

Handler = Callable[..., Any]

#: Messages whose handlers take what the server passes fitted to them.
_LIFECYCLE = frozenset({"connect", "disconnect", "disconnecting"})


class Settings(Protocol):
    """What a :class:`Dispatcher` reads from its extension, at each call."""

    manage_session: bool
    exception_handlers: dict[str, Callable[[Exception], Any]]
    default_exception_handler: Callable[[Exception], Any] | None

    def installations(self) -> Iterable[tuple[Flask, Server]]:
        """Each app the extension is installed on, with its server."""
        ...


class Dispatcher:
    """Runs an extension's handlers in Flask's contexts.

    Args:
        settings: the extension (its session mode and error handlers are
            read at every call, so changing them takes effect at once).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def event_handler(self, message: str, handler: Handler, key: NamespaceKey) -> Handler:
        """The function to register with a server for ``handler``.

        Args:
            message: the event it handles (``"*"`` for the catch-all).
            handler: the user's function, with Flask-SocketIO's signature.
            key: the namespace it serves: a name, ``"*"`` or a pattern.
        """
        dynamic = key == "*" or isinstance(key, re.Pattern)
        catch_all = message == "*"
        if not dynamic and not catch_all and message not in _LIFECYCLE:
            # An event of one namespace: the server passes the sid, then the
            # event's arguments (the path every event takes, kept short).
            namespace, dispatch = str(key), self._dispatch
            coroutine = is_coroutine_function(handler)

            def run_event(sid: str, *args: Any) -> Any:
                socket = SocketContext(sid, namespace)
                return dispatch(handler, message, socket, args, args, coroutine=coroutine)

            run_event.__name__ = getattr(handler, "__name__", "handler")
            run_event.__qualname__ = getattr(handler, "__qualname__", run_event.__name__)
            return run_event

        def run(*arguments: Any) -> Any:
            rest = list(arguments)
            event = rest.pop(0) if catch_all else message
            namespace = rest.pop(0) if dynamic else str(key)
            sid = rest.pop(0)
            if catch_all:
                rest.insert(0, event)
            return self.run(handler, message, SocketContext(sid, namespace), tuple(rest))

        # No __wrapped__: the server reads this function's signature, not the user's.
        run.__name__ = getattr(handler, "__name__", "handler")
        run.__qualname__ = getattr(handler, "__qualname__", run.__name__)
        return run

    def run(
        self, handler: Handler, message: str, socket: SocketContext, args: tuple[Any, ...]
    ) -> Any:
        """Run ``handler`` for ``socket`` with what the server passed after the sid.

        For ``connect`` that is the environ and the auth (the handler gets
        the auth, if it takes an argument); for ``disconnect`` the reason
        (likewise); else the event's arguments. Returns the handler's value:
        the acknowledgement, or the connect handler's verdict.
        """
        if message == "connect":
            call_args = fit_arguments(handler, args[1:2])
        elif message in ("disconnect", "disconnecting"):
            call_args = fit_arguments(handler, args)
        else:
            call_args = args
        return self._dispatch(handler, message, socket, args, call_args)

    def run_in_context(
        self,
        fn: Handler,
        message: str,
        socket: SocketContext,
        event_args: tuple[Any, ...],
        call_args: tuple[Any, ...],
    ) -> Any:
        """Run ``fn(*call_args)`` in ``socket``'s contexts, ``request.event``
        naming ``message`` and ``event_args`` (middlewares and listeners)."""
        return self._dispatch(fn, message, socket, event_args, call_args)

    def callback(self, callback: Callable[..., Any], sender: SocketContext) -> Callable[..., Any]:
        """``callback`` for an emit made in a handler: it will run in ``sender``'s contexts.

        Must be called inside that handler (the app is remembered, should
        the sender be gone when the acknowledgement comes).
        """
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]

        def run(*answer: Any) -> Any:
            return self._dispatch(callback, None, sender, answer, answer, fallback=app)

        run.__name__ = getattr(callback, "__name__", "callback")
        return run

    def namespace_event(
        self, namespace: NamespaceKey, handler: Handler, event: str, args: tuple[Any, ...]
    ) -> Any:
        """Run a class-based namespace's method; ``args`` start with the sid.

        Raises:
            ConfigurationError: no sid, or a namespace that is not a name.
        """
        if not args:
            raise ConfigurationError("trigger_event() needs the sid after the event name")
        if not isinstance(namespace, str):
            raise ConfigurationError("a Flask Namespace serves one namespace name")
        return self.run(handler, event, SocketContext(str(args[0]), namespace), tuple(args[1:]))

    def _dispatch(
        self,
        handler: Handler,
        message: str | None,
        socket: SocketContext,
        event_args: tuple[Any, ...],
        call_args: tuple[Any, ...],
        *,
        fallback: Flask | None = None,
        coroutine: bool | None = None,
    ) -> Any:
        """Run ``handler`` in ``socket``'s contexts (``coroutine``: whether it
        is ``async def``, when the caller knows; ``fallback``: the app to run
        it in, in an app context only, should the client be gone)."""
        found = self._connection(socket)
        if found is None:
            # The client left while this was on its way (a late
            # acknowledgement, say): there is no request to rebuild.
            if fallback is None:
                logger.debug(
                    "client %s of %s is gone; %r skipped", socket.sid, socket.namespace, handler
                )
                return None
            with fallback.app_context():
                return _synchronous(fallback, handler)(*call_args)
        app, environ, session = found
        settings = self._settings
        manage = settings.manage_session
        context = handler_context(
            app,
            environ,
            socket,
            {"message": message, "args": event_args},
            manage_session=manage,
            carried=session if manage else None,
        )
        token = RUNNING.set((socket, app.extensions.get(EXTENSION_KEY)))
        try:
            # Flask's `with context:`, without the two calls it costs.
            context.push()
            try:
                try:
                    if coroutine is None:
                        coroutine = is_coroutine_function(handler)
                    result = (app.ensure_sync(handler) if coroutine else handler)(*call_args)
                except (ConnectionRefused, ConnectionRefusedError, EventRefused):
                    raise
                except Exception as exc:
                    on_error = settings.exception_handlers.get(
                        socket.namespace, settings.default_exception_handler
                    )
                    if on_error is None:
                        raise
                    result = on_error(exc)
                else:
                    if not manage:
                        save_session(app, context.session)
            except BaseException as exc:
                context.pop(exc)
                raise
            context.pop(None)
            return result
        finally:
            RUNNING.reset(token)

    def _connection(
        self, socket: SocketContext
    ) -> tuple[Flask, dict[str, Any], dict[str, Any]] | None:
        """The app, connection environ and server-side session of ``socket``,
        from whichever server has it."""
        sid, namespace = socket.sid, socket.namespace
        for app, server in self._settings.installations():
            found = server.local_sockets.get(sid)
            if found is not None and found.namespace == namespace:
                return app, found.environ, found.session
        return None


def _synchronous(app: Flask, handler: Handler) -> Handler:
    """``handler``, or for an ``async def`` one, what Flask runs an async view
    with (``app.ensure_sync``; see :func:`check_coroutines`)."""
    return app.ensure_sync(handler) if is_coroutine_function(handler) else handler


def is_coroutine_function(handler: Any) -> bool:
    """Whether ``handler`` is ``async def`` (cheap for plain functions and methods)."""
    code = getattr(getattr(handler, "__func__", handler), "__code__", None)
    if code is not None:
        return bool(code.co_flags & inspect.CO_COROUTINE)
    return inspect.iscoroutinefunction(handler)


def check_coroutines(coroutines: list[str], mode: str) -> None:
    """Whether ``async def`` handlers (named in ``coroutines``) can run in ``mode``.

    They run as Flask runs async views (``app.ensure_sync``, asgiref): the
    coroutine runs on an event loop in another thread while the handler's
    task waits. That needs asgiref (``flask[async]``), and under eventlet or
    gevent a monkey patched process, as Flask documents: otherwise the
    waiting task blocks every other one, and a handler that writes to its
    client's WebSocket never finishes.

    Raises:
        ConfigurationError: they cannot.
    """
    if not coroutines:
        return
    first = coroutines[0]
    if mode in ("eventlet", "gevent") and patched_mode() != mode:
        raise ConfigurationError(
            f"{first} is async def: under {mode} it runs as Flask runs async views, which "
            f"needs the process monkey patched by {mode} before anything else is imported "
            f"(as Flask documents); patch it, use async_mode='threading', or write it with def"
        )
    if importlib.util.find_spec("asgiref") is None:
        raise ConfigurationError(
            f"{first} is async def: it runs as Flask runs async views, which needs "
            "flask[async]: pip install 'flask[async]'"
        )
